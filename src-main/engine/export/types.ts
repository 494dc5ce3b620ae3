// The records an export lists (edits.json, the model card, the API result): apart from the export
// code so the model card can name them without importing the exporter back.
import type { EditMethod } from '../edit/types';

export interface ExportedEdit {
  id: number;
  seq: number;
  method: EditMethod | string;
  layers: number[];
  caseIds: string[];
  approximate?: boolean;
}

/** A file (or sub-folder, name ending in "/") of the model folder the export left out, and why. */
export interface OmittedFile {
  file: string;
  reason: string;
}
