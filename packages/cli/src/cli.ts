import { Argument, Command, CommanderError, Option } from "commander";
import { ErrorCodes, fileSystemError, isMdmError, redactSecrets } from "@mdm/storage-core";
import { SHELLS, allCommands, completionScript, type Shell } from "./completion.js";
import { CliContext } from "./context.js";
import { jsonPrinted, print, printJson, useColour } from "./output.js";
import { ExitCodes, UsageError, exitCodeOf, type ExitCode } from "./exit-codes.js";
import { exportCommand, infoCommand, listCommand, registerCommand, removeCommand } from "./commands/dataset.js";
import { doctorCommand } from "./commands/doctor.js";
import { flagsGetCommand, flagsListCommand, flagsSetCommand, flagsUnsetCommand } from "./commands/flags.js";
import { migrateCommand } from "./commands/migrate.js";
import { compareCommand, validateCommand } from "./commands/storage.js";

/** Replaced at build time by the version in package.json (tsup `define`). */
declare const __MDM_CLI_VERSION__: string;

export function cliVersion(): string {
  return typeof __MDM_CLI_VERSION__ === "string" ? __MDM_CLI_VERSION__ : "0.0.0-dev";
}

const EXIT_CODE_HELP = `
Exit codes:
  0  success              4  already exists           8  value the backend cannot hold exactly
  1  failure              5  verification failed      9  disk full
  2  usage error          6  backend unavailable      10 invalid configuration
  3  not found            7  locked                   11 source changed during the migration
                                                      130 interrupted (Ctrl-C)

Environment: MDM_HOME_DIR (default ~/.mdm), MDM_<SECTION>_<KEY> overrides of mdm.yaml
(e.g. MDM_DATABASE_DEFAULT_BACKEND, MDM_DATABASE_POSTGRESQL_HOST), MDM_FEATURE_<FLAG>.`;

interface Runtime {
  ctx?: CliContext;
  exitCode: ExitCode;
  /** The command's exit code says what an interrupt did (migrate); otherwise an interrupt exits 130. */
  reportsInterrupts?: boolean;
  signal: AbortSignal;
}

function buildProgram(runtime: Runtime): Command {
  const context = () => (runtime.ctx ??= new CliContext());
  const program = new Command("mdm")
    .description("MDM datasets: register, inspect, export, remove and migrate them between SQLite, DuckDB and PostgreSQL.")
    .version(cliVersion(), "-V, --version", "print the version")
    .option("--debug", "print the stack of an error")
    .option("--no-color", "no colours in any output (also when NO_COLOR is set)")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", EXIT_CODE_HELP)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text.startsWith("error:") ? `mdm: ${text}` : text) });
  program.helpCommand(false);
  program
    .command("help")
    .description("show the help of a command: mdm help dataset register")
    .argument("[command...]", "the command's words")
    .action((words: string[]) => {
      commandAt(program, words).outputHelp();
    });
  program
    .command("completion")
    .description("print a shell completion script: eval \"$(mdm completion bash)\" (bash, zsh) or mdm completion fish | source")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices(SHELLS))
    .action((shell: Shell) => {
      print(completionScript(program, shell));
    });

  const dataset = program.command("dataset").description("register, list, inspect, export and remove datasets");
  dataset
    .command("register")
    .description("register a dataset from a file or a directory (train/test/validation/sample_submission detected)")
    .argument("<name>", "dataset name (lower-cased; letters, digits, _ and -)")
    .argument("<path>", "CSV, TSV, Parquet or JSON file (.csv.gz, .tsv.gz too), or a directory of them")
    .addOption(new Option("--backend <backend>", "storage backend (default: database.default_backend of mdm.yaml)").choices(["sqlite", "duckdb", "postgresql"]))
    .option("--target <column>", "target column")
    .option("--id-columns <columns>", "comma-separated id columns")
    .option("--problem-type <type>", "problem type (default: inferred from the target)")
    .option("--description <text>", "description kept in the registry")
    .option("--force", "replace a dataset of that name")
    .addOption(
      new Option("--copy-with <choice>", "implementation that writes: fastest (the new one when installed; the dataset stays served by the flags' choice) or flags (the flags' choice)")
        .choices(["fastest", "flags"])
        .default("fastest"),
    )
    .option("--dtype <column=type>", "the column's type instead of the inferred one: int64, float64, decimal(p,s), boolean, date, timestamp, timestamptz, text, json (or int, float, bool, str, datetime); repeatable. Each value is checked", (v: string, all: string[] = []) => [...all, v])
    .option("--parse-dates <columns>", "comma-separated columns read as dates or timestamps (by --date-format when given)")
    .option("--date-format <format>", "strptime format of --parse-dates and date/timestamp --dtype columns, for example %m/%d/%Y or \"%d.%m.%Y %H:%M\"")
    .option("--dry-run", "print the columns inference gives each file (types, counts, a few values) and the values the backend could not hold; write nothing")
    .option("--coerce-unsupported", "store each value the backend cannot hold as its nearest value (NaN -> NULL, -0.0 -> 0.0, ...), counted in the summary; without it such a value is refused")
    .option("--json", "print the registered dataset as JSON")
    .action(async (name: string, path: string, opts) => registerCommand(context(), name, path, opts, runtime.signal));
  dataset
    .command("list")
    .description("list registered datasets")
    .option("--json", "print JSON")
    .action(async (opts) => listCommand(context(), opts));
  dataset
    .command("info")
    .description("backend, location, tables with row counts and column types, target and id columns")
    .argument("<name>", "dataset name")
    .option("--json", "print JSON")
    .action(async (name: string, opts) => infoCommand(context(), name, opts));
  dataset
    .command("remove")
    .description("remove a dataset: its database and its registry entry")
    .argument("<name>", "dataset name")
    .option("--force", "do not ask")
    .option("--json", "print JSON")
    .action(async (name: string, opts) => removeCommand(context(), name, opts));
  dataset
    .command("export")
    .description("export tables to <output>/<table>.<format>")
    .argument("<name>", "dataset name")
    .addOption(new Option("--format <format>", "file format").choices(["csv", "parquet", "json"]).default("csv"))
    .option("--output <dir>", "output directory (default: ./<name>)")
    .option("--table <table>", "only this table")
    .addOption(new Option("--read-with <choice>", "implementation that reads: fastest (the new one when installed) or flags (the flags' choice)").choices(["fastest", "flags"]).default("fastest"))
    .option("--json", "print the written files as JSON")
    .action(async (name: string, opts) => exportCommand(context(), name, opts));

  program
    .command("migrate")
    .description("move datasets to another backend of this MDM home (staged, verified, published atomically)")
    .argument("[names...]", "datasets to migrate")
    .option("--all", "every registered dataset")
    .requiredOption("--to <backend>", "target backend: sqlite, duckdb or postgresql, optionally :legacy or :new (the implementation that copies)")
    .addOption(new Option("--from-impl <impl>", "implementation that reads the source (default: see --copy-with)").choices(["legacy", "new"]))
    .addOption(
      new Option("--copy-with <choice>", "implementations that copy when --from-impl or --to TYPE:IMPL name none: fastest (the new one when installed; the dataset stays served by the flags' choice) or flags (the flags' choice)")
        .choices(["fastest", "flags"])
        .default("fastest"),
    )
    .option("--batch-size <n>", "rows per batch (default 2048, the migrator's)")
    .addOption(new Option("--verify <mode>", "verification before publishing").choices(["checksum", "count", "none"]).default("checksum"))
    .option("--overwrite", "replace an existing dataset of that name in the target")
    .option("--remove-source", "drop the source database after a verified migration")
    .option("--cast <table.column=type>", "convert the column to the type on the way (exact conversions only: text -> timestamp/date/decimal/int64/boolean, 0/1 int64 -> boolean, ...); a value that does not convert fails the migration naming its row; repeatable", (v: string, all: string[] = []) => [...all, v])
    .option("--coerce-unsupported", "store each value the target cannot hold as its nearest value (NaN -> NULL, -0.0 -> 0.0, ...), counted in the summary and the dataset's metadata; without it such a value is refused")
    .option("--json", "print the result objects as JSON")
    .action(async (names: string[], opts) => {
      runtime.reportsInterrupts = true;
      runtime.exitCode = await migrateCommand(context(), names, opts, runtime.signal);
    });

  program
    .command("doctor")
    .description("list what interrupted or failed runs left (staging files, temporary files, stale locks, PostgreSQL staging databases); --clean removes them")
    .option("--clean", "remove them (never a live lock, a publish journal or a published dataset)")
    .option("--postgresql", "also check the PostgreSQL server when no dataset of this home uses it")
    .option("--json", "print the report as JSON")
    .action(async (opts) => {
      runtime.exitCode = await doctorCommand(context(), opts);
    });

  const storage = program.command("storage").description("compare and validate backends");
  storage
    .command("compare")
    .description("run the comparison tester: legacy vs new implementation of a backend")
    .argument("<backend>", "sqlite, duckdb or postgresql")
    .option("--rows <n>", "rows of the large performance test (default 100000)")
    .option("--json [file]", "print the JSON report on stdout (the console report goes to stderr), or write it to a file")
    .option("--markdown <file>", "write the Markdown report to a file")
    .action(async (backend: string, opts) => {
      runtime.exitCode = await compareCommand(context(), backend, opts);
    });
  storage
    .command("validate")
    .description("run the storage validator on fresh backends of that type (a temporary home, never your datasets)")
    .argument("<backend>", "sqlite, duckdb or postgresql, optionally :legacy or :new (default: the flags)")
    .option("--rows <n>", "rows of the quick performance check (default 20000)")
    .option("--json", "print the report as JSON")
    .action(async (backend: string, opts) => {
      runtime.exitCode = await validateCommand(context(), backend, opts);
    });

  const flags = program.command("flags").description("feature flags in <MDM home>/feature_flags.yaml");
  flags
    .command("list")
    .description("every flag with its value and where it comes from (default, file, env)")
    .option("--json", "print JSON")
    .action((opts) => flagsListCommand(context(), opts));
  flags
    .command("get")
    .description("print a flag's value")
    .argument("<flag>")
    .option("--json", "print JSON")
    .action((flag: string, opts) => flagsGetCommand(context(), flag, opts));
  flags
    .command("set")
    .description("write a flag to feature_flags.yaml")
    .argument("<flag>")
    .argument("<value>", "true/false, a number (rollout_percentage), or null (per-type overrides)")
    .action((flag: string, value: string) => flagsSetCommand(context(), flag, value));
  flags
    .command("unset")
    .description("remove a flag from feature_flags.yaml")
    .argument("<flag>")
    .action((flag: string) => flagsUnsetCommand(context(), flag));

  for (const command of allCommands(program)) {
    command.exitOverride();
    command.configureOutput({ outputError: (text, write) => write(text.startsWith("error:") ? `mdm: ${text}` : text) });
  }
  return program;
}

/** The command named by `words` (`["dataset", "register"]`); a word that names none is a usage error. */
function commandAt(program: Command, words: string[]): Command {
  let command = program;
  for (const word of words) {
    const next = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!next) throw new UsageError(`mdm help: ${[...words.slice(0, words.indexOf(word)), word].join(" ")} is not a command (commands: ${command.commands.map((c) => c.name()).join(", ")})`);
    command = next;
  }
  return command;
}

/** The message of an error, on one line, without any secret. */
function oneLine(error: unknown, secrets: string[]): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = isMdmError(error) ? ` [${error.code}]` : "";
  return redactSecrets(`${message.replace(/\s*\n\s*/g, " ")}${code}`, secrets);
}

/**
 * A file-system error that reached the top without a stable code (ENOSPC, EACCES, ...) gets one, naming its
 * path: a full disk exits 9 whatever wrote.
 */
function withStableCode(error: unknown): unknown {
  const errno = error as NodeJS.ErrnoException;
  if (isMdmError(error) || !(error instanceof Error) || typeof errno.syscall !== "string") return error;
  return fileSystemError(error, errno.path ?? "(a file)", errno.syscall);
}

/** Run `mdm` with the given arguments (without node and script); resolves with the exit code. */
export async function main(argv: string[] = process.argv.slice(2)): Promise<ExitCode> {
  const controller = new AbortController();
  const runtime: Runtime = { exitCode: ExitCodes.OK, signal: controller.signal };
  const debug = argv.includes("--debug");
  // A `--json` run prints one JSON document on stdout, an error object too (the message also goes to stderr).
  const json = argv.includes("--json") || argv.some((a) => a.startsWith("--json="));
  if (argv.includes("--no-color") || (process.env.NO_COLOR ?? "") !== "") useColour(false);
  const program = buildProgram(runtime);
  // Registration aborts cleanly on Ctrl-C (migrate installs its own handlers through the migrator).
  const onSignal = () => controller.abort();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    await program.parseAsync(argv, { from: "user" });
    // migrate reports what an interrupt left on disk itself (a dataset past its publish completes).
    if (controller.signal.aborted && !runtime.reportsInterrupts) return ExitCodes.ABORTED;
    return runtime.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; a missing command (help shown instead) is a usage error.
      if (error.exitCode === 0) return ExitCodes.OK;
      if (json && !jsonPrinted()) printJson({ error: { code: ErrorCodes.INVALID_ARGUMENT, message: error.message.replace(/^error: /, ""), exit_code: ExitCodes.USAGE } });
      return ExitCodes.USAGE;
    }
    const secrets = runtime.ctx?.secrets ?? [];
    error = withStableCode(error);
    const code = controller.signal.aborted ? ExitCodes.ABORTED : exitCodeOf(error);
    process.stderr.write(`mdm: error: ${oneLine(error, secrets)}\n`);
    if (json && !jsonPrinted()) {
      const message = redactSecrets(error instanceof Error ? error.message : String(error), secrets);
      printJson({ error: { code: isMdmError(error) ? error.code : error instanceof UsageError ? ErrorCodes.INVALID_ARGUMENT : ErrorCodes.INTERNAL, message, exit_code: code } });
    }
    if (debug && error instanceof Error && error.stack) process.stderr.write(`${redactSecrets(error.stack, secrets)}\n`);
    if (error instanceof UsageError) process.stderr.write("(run with --help for usage)\n");
    return code;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await runtime.ctx?.close();
  }
}
