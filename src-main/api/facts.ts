// Fact-request validation for the renderer's import view: the engine's own rules (engine/facts),
// reached through api/ like everything else the renderer uses, so the app checks a row exactly as
// the engine will before sending it.
export { validateRequest } from '../engine/facts/validate';
