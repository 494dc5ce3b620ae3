// `eac` command line: dispatches to the subcommands in ./commands (a registry), parses flags with
// node:util parseArgs (strict), and turns every error into one line on stderr naming the file and the
// cause. Exit codes (the README's table is generated from the same table): 0 success, else decided by
// the error's code through engine/errors.ts ERROR_CODES (exitCodeFor): 2 bad input (usage errors, a
// missing or broken model / facts / task file, a file that is not a usable ledger, a refused export
// target), 1 any other failure (I/O, a ledger held by another writer, a corrupt factor, a crash).
// Started by bin/eac.mjs (tsx) or directly: node --import tsx src-main/cli/main.ts ...
// Either way the process creates its files 0600 and folders 0700 (umask 077): ledgers, caches and
// exports may hold private data on shared machines.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseMemorySize } from '../engine/runtime/memory';
import { EXIT_CODES, exitCodeFor } from '../engine/errors';
import { UsageError, type CliCommand, type CliIO, type OptionValues } from './command';
import { commands as registered } from './commands';

export const VERSION = '0.1.0';

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

function mainHelp(cmds: CliCommand[]): string {
  const w = Math.max(...cmds.map((c) => c.name.length));
  return [
    'eac — EAC Studio command line (offline; runs local Hugging Face GPT-2/LLaMA folders)',
    '',
    'Usage: eac <command> [options]',
    '',
    'Commands:',
    ...cmds.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'Run `eac <command> --help` for its options. Exit codes: 0 success, 2 bad input, 1 other failures.',
    '',
    'Global option (any command): --max-memory SIZE  resident-memory budget of the engine, e.g. 20G or',
    '  1500M (default $EAC_MAX_MEMORY, else 1.2 × the model\'s weight bytes, at least 2 GiB and at most',
    '  85 % of RAM); sessions and caches are evicted to stay under it.',
    '',
  ].join('\n');
}

function commandHelp(c: CliCommand): string {
  return `Usage: eac ${c.usage}\n\n${c.summary}\n\n${c.help}\n`;
}

function defaultIO(): CliIO {
  return {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    cwd: process.cwd(),
    env: process.env,
    errIsTTY: process.stderr.isTTY === true,
  };
}

/** Runs one command line; returns the exit code (never throws). */
export async function main(argv: string[], io: CliIO = defaultIO(), cmds: CliCommand[] = registered): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const target = name === 'help' && rest[0] ? cmds.find((c) => c.name === rest[0]) : undefined;
    if (name === 'help' && rest[0] && !target) {
      io.err(`eac: unknown command "${rest[0]}" (commands: ${cmds.map((c) => c.name).join(', ')})\n`);
      return EXIT_CODES.input;
    }
    io.out(target ? commandHelp(target) : mainHelp(cmds));
    return name === undefined ? EXIT_CODES.input : 0;
  }
  if (name === '--version' || name === '-V') {
    io.out(`eac ${VERSION}\n`);
    return 0;
  }
  const cmd = cmds.find((c) => c.name === name);
  if (!cmd) {
    io.err(`eac: unknown command "${name}" (commands: ${cmds.map((c) => c.name).join(', ')}; see eac --help)\n`);
    return EXIT_CODES.input;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(commandHelp(cmd));
    return 0;
  }
  const savedBudget = process.env.EAC_MAX_MEMORY;
  try {
    const args = takeMaxMemory(rest);
    let parsed: { values: OptionValues; positionals: string[] };
    try {
      parsed = parseArgs({ args, options: cmd.options, strict: true, allowPositionals: cmd.allowPositionals ?? false }) as {
        values: OptionValues;
        positionals: string[];
      };
    } catch (e) {
      throw new UsageError('usage', `${(e as Error).message} (see eac ${cmd.name} --help)`);
    }
    const code = await cmd.run(parsed.values, parsed.positionals, io);
    return code ?? 0;
  } catch (e) {
    const err = e as Error;
    const exit = exitCodeFor(e);
    io.err(`eac ${cmd.name}: ${exit === EXIT_CODES.input ? '' : 'error: '}${oneLine(err?.message ?? String(e))}\n`);
    if (io.env.EAC_DEBUG && err?.stack) io.err(err.stack + '\n');
    return exit;
  } finally {
    if (savedBudget === undefined) delete process.env.EAC_MAX_MEMORY;
    else process.env.EAC_MAX_MEMORY = savedBudget;
  }
}

/**
 * Removes the global `--max-memory SIZE` (or `--max-memory=SIZE`) from a command's arguments and
 * hands it to the engine as $EAC_MAX_MEMORY (read by every model this process or its engine process
 * opens; restored when the command returns).
 */
function takeMaxMemory(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      out.push(...args.slice(i));
      break;
    }
    let value: string | undefined;
    if (a === '--max-memory') {
      value = args[++i];
      if (value === undefined) throw new UsageError('usage', '--max-memory needs a size (e.g. 20G)');
    } else if (a.startsWith('--max-memory=')) value = a.slice('--max-memory='.length);
    else {
      out.push(a);
      continue;
    }
    try {
      process.env.EAC_MAX_MEMORY = String(parseMemorySize(value));
    } catch (e) {
      throw new UsageError('usage', `--max-memory: ${(e as Error).message}`);
    }
  }
  return out;
}

const invokedDirectly = (() => {
  try {
    return !!process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
})();

if (invokedDirectly) {
  // files 0600, folders 0700 for everything this process creates (bin/eac.mjs does the same)
  process.umask(0o077);
  process.exitCode = await main(process.argv.slice(2));
}
