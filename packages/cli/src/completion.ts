import type { Command } from "commander";

/** The shells `mdm completion` writes a script for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/** Every command of the program, the program first, then each level's subcommands. */
export function allCommands(program: Command): Command[] {
  return [program, ...program.commands.flatMap((c) => allCommands(c))];
}

/** A command's words after `mdm` (`dataset register`). */
function pathOf(command: Command): string[] {
  const words: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) words.unshift(c.name());
  return words;
}

/** What may follow a command: its subcommands, then its long options (and --help). */
function wordsAfter(command: Command): string[] {
  const options = command.options.map((o) => o.long).filter((o): o is string => o !== undefined);
  return [...command.commands.map((c) => c.name()), ...options, "--help"];
}

/**
 * The completion script of a shell, from the program's own commands and options (so it never lists a
 * command that is not there). bash and zsh (through bashcompinit) share one function: the typed words
 * that extend a known command path select the candidates; after a command's arguments, its options.
 */
export function completionScript(program: Command, shell: Shell): string {
  const commands = allCommands(program);
  if (shell === "fish") return fishScript(commands);
  const cases = commands.map((c) => `    ${JSON.stringify(pathOf(c).join(" "))}) words=${JSON.stringify(wordsAfter(c).join(" "))} ;;`).join("\n");
  const known = commands.map((c) => `|${pathOf(c).join(" ")}|`).join("");
  const bash = `_mdm_complete() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" w words=""
  for w in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "${known}" in
      *"|\${path:+\$path }\$w|"*) path="\${path:+\$path }\$w" ;;
    esac
  done
  case "\$path" in
${cases}
  esac
  COMPREPLY=( \$(compgen -W "\$words" -- "\$cur") )
}
complete -o default -F _mdm_complete mdm`;
  if (shell === "bash") return `# mdm completion for bash: eval "$(mdm completion bash)" (or put this in ~/.bashrc)\n${bash}`;
  return `#compdef mdm\n# mdm completion for zsh: eval "$(mdm completion zsh)" (or put this in ~/.zshrc)\nautoload -U +X bashcompinit && bashcompinit\n${bash}`;
}

/** A fish single-quoted string (where only \\ and ' are special). */
function fishQuote(text: string): string {
  return `'${text.replace(/[\\']/g, "\\$&")}'`;
}

function fishScript(commands: Command[]): string {
  const lines = ["# mdm completion for fish: mdm completion fish | source", "complete -c mdm -f"];
  for (const command of commands) {
    const path = pathOf(command);
    // The command's words typed, and none of its subcommands yet.
    const seen = path.map((w) => `__fish_seen_subcommand_from ${w}`);
    const subs = command.commands.map((c) => c.name());
    const notYet = subs.length > 0 ? [`not __fish_seen_subcommand_from ${subs.join(" ")}`] : [];
    const condition = path.length === 0 ? "__fish_use_subcommand" : [...seen, ...notYet].join("; and ");
    for (const sub of command.commands) lines.push(`complete -c mdm -n ${fishQuote(condition)} -a ${sub.name()} -d ${fishQuote(sub.description())}`);
    for (const option of command.options) {
      if (option.long) lines.push(`complete -c mdm -n ${fishQuote(condition)} -l ${option.long.replace(/^--/, "")} -d ${fishQuote(option.description)}`);
    }
  }
  return lines.join("\n");
}
