// The `eac` subcommands, in the order `eac --help` lists them. To add one, write
// commands/<name>.ts exporting `default defineCommand({...})` and list it here.
import type { CliCommand } from '../command';
import edit from './edit';
import generate from './generate';
import health from './health';
import info from './info';
import ledger from './ledger';
import logits from './logits';
import stats from './stats';
import verify from './verify';

export const commands: CliCommand[] = [info, generate, logits, edit, stats, verify, ledger, health];
