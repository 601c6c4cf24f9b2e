# Built-in safety pack for Runbook and Workflow commands.
#
# input: the Runbook (or Workflow) document as written, or with its variables rendered.
# deny contains {"step": <step name>, "msg": <the command as written>, "key": <where in the
# step>}: "command" or "rollback.command". Repositories extend the pack with modules of
# their own under `package reconciler.runbook_safety.<name>` whose `deny` sets count too.
package reconciler.packs.runbook_safety

import rego.v1

shells := {"sh", "bash", "dash", "zsh", "ksh", "ash", "busybox"}

# Tokens that only wrap the real program: `sudo rm ...`, `env X=1 rm ...`, `nohup rm ...`.
wrappers := {"sudo", "doas", "exec", "nohup", "command", "time", "env", "nice", "ionice", "xargs"}

power_programs := {"shutdown", "reboot", "halt", "poweroff"}

power_verbs := {"poweroff", "reboot", "halt", "kexec"}

safe_devices := {"/dev/null", "/dev/zero", "/dev/stdout", "/dev/stderr", "/dev/tty"}

system_dirs := `^/+(bin|boot|dev|etc|home|lib|lib32|lib64|opt|proc|root|sbin|srv|sys|usr|var)/*\*?$`

deny contains {"step": step.name, "msg": line, "key": key} if {
	some entry in commands
	step := entry.step
	key := entry.key
	line := concat(" ", entry.command)
	dangerous(entry)
}

# Every command of every step: its own and its rollback's, with the step they belong to.
commands contains {"step": step, "key": "command", "command": step.command, "shell": object.get(step, "shell", false)} if {
	some step in all_steps
	is_array(step.command)
}

commands contains {"step": step, "key": "rollback.command", "command": step.rollback.command, "shell": object.get(step.rollback, "shell", false)} if {
	some step in all_steps
	is_array(step.rollback.command)
}

all_steps contains step if some step in input.spec.steps

all_steps contains step if some step in input.spec.onFailure

dangerous(entry) if {
	some script in scripts(entry)
	script_danger(script)
}

dangerous(entry) if {
	some words in segments(entry)
	words_danger(words)
}

# Shell text of a command: the command line when `shell: true`, and the SCRIPT of an argv
# that runs `sh -c SCRIPT`.
scripts(entry) := {line | some line in shell_lines(entry)} | dash_c_scripts(entry.command)

shell_lines(entry) := [concat(" ", entry.command) | entry.shell == true]

dash_c_scripts(argv) := {script |
	words := unwrap(argv)
	basename(words[0]) in shells
	some i, flag in words
	i > 0
	regex.match(`^-[a-z]*c[a-z]*$`, flag)
	i + 1 < count(words)
	script := words[i + 1]
}

# The commands of an entry as lists of words, wrappers dropped: the argv itself, and each
# simple command of its shell text split at `;`, `&&`, `||`, `|`, `&`, newlines, `(`, `)`
# and backquotes (quotes are dropped, so a quoted path is seen as the path).
segments(entry) := {unwrap(entry.command)} | {unwrap(words) |
	some script in scripts(entry)
	some part in regex.split("[;&|\\n()`]+", script)
	words := [unquote(w) | some w in regex.split(`\s+`, trim_space(part)); w != ""]
}

unquote(word) := strings.replace_n({"\"": "", "'": ""}, word)

unwrap(words) := array.slice(words, first_real(words), count(words))

first_real(words) := min(real) if {
	real := {i | some i, w in words; not wrapper(w)}
	count(real) > 0
} else := count(words)

wrapper(word) if basename(word) in wrappers

wrapper(word) if regex.match(`^[A-Za-z_][A-Za-z0-9_]*=`, word)

wrapper(word) if startswith(word, "-")

basename(path) := regex.find_n(`[^/]*$`, path, 1)[0]

args(words) := array.slice(words, 1, count(words))

operands(words) := [a | some a in args(words); not startswith(a, "-")]

# rm -rf of a root-like path, or with --no-preserve-root.
words_danger(words) if {
	basename(words[0]) == "rm"
	recursive(args(words))
	some path in operands(words)
	root_like(path)
}

words_danger(words) if {
	basename(words[0]) == "rm"
	"--no-preserve-root" in args(words)
}

recursive(flags) if {
	some f in flags
	regex.match(`^-[a-zA-Z]*[rR][a-zA-Z]*$`, f)
}

recursive(flags) if "--recursive" in flags

root_like(path) if regex.match(`^/+(\.\.?/*)*\*?$`, path)

root_like(path) if regex.match(system_dirs, path)

root_like(path) if regex.match(`^(~|\$HOME|\$\{HOME\})/*\*?$`, path)

words_danger(words) if regex.match(`^(mkfs(\..*)?|mke2fs|mkswap|wipefs|blkdiscard)$`, basename(words[0]))

# dd writing to a device.
words_danger(words) if {
	basename(words[0]) == "dd"
	some a in args(words)
	startswith(a, "of=/dev/")
	not substring(a, 3, -1) in safe_devices
}

# chmod -R 777 anything, or chmod 777 of a root-like path.
words_danger(words) if {
	basename(words[0]) == "chmod"
	recursive(args(words))
	some mode in operands(words)
	world_writable(mode)
}

words_danger(words) if {
	basename(words[0]) == "chmod"
	some mode in operands(words)
	world_writable(mode)
	some path in operands(words)
	root_like(path)
}

world_writable(mode) if regex.match(`^0?777$|^(a|ugo)\+rwx$`, mode)

words_danger(words) if basename(words[0]) in power_programs

words_danger(words) if {
	basename(words[0]) in {"init", "telinit"}
	some level in args(words)
	level in {"0", "6"}
}

words_danger(words) if {
	basename(words[0]) == "systemctl"
	some verb in args(words)
	verb in power_verbs
}

# Dropping every firewall rule.
words_danger(words) if {
	basename(words[0]) in {"iptables", "ip6tables", "iptables-legacy", "iptables-nft"}
	some flag in args(words)
	regex.match(`^(-[a-zA-Z]*F[a-zA-Z]*|--flush)$`, flag)
}

words_danger(words) if {
	basename(words[0]) == "nft"
	args(words) == ["flush", "ruleset"]
}

# kill -9 -1: every process the user may signal.
words_danger(words) if {
	basename(words[0]) == "kill"
	count(words) > 2
	words[count(words) - 1] == "-1"
}

# truncate/shred/tee onto a block device, or a copy onto one.
words_danger(words) if {
	basename(words[0]) in {"truncate", "shred", "tee"}
	some a in args(words)
	block_device(a)
}

words_danger(words) if {
	basename(words[0]) in {"cp", "mv"}
	block_device(words[count(words) - 1])
}

block_device(path) if {
	startswith(path, "/dev/")
	not path in safe_devices
	not startswith(path, "/dev/fd/")
}

# curl/wget piped into a shell, or a shell running what curl/wget printed.
script_danger(script) if regex.match(`(curl|wget)\b[^|;&]*\|\s*(sudo\s+)?(\S*/)?(ba|z|da|k)?sh\b`, script)

script_danger(script) if regex.match(`\b(ba|z|da|k)?sh\s+(-[a-z]*c[a-z]*\s+)?["']?(\$\(|<\(|\x60)\s*(curl|wget)\b`, script)

script_danger(script) if regex.match(`^\s*["']?(\$\(|\x60)\s*(curl|wget)\b`, script)

script_danger(script) if regex.match(`\beval\s+["']?(\$\(|\x60)\s*(curl|wget)\b`, script)

# The classic fork bomb, any function name: f(){ f|f& };f
script_danger(script) if regex.match(`\(\)\s*\{[^}]*\|[^}]*&\s*\}\s*;`, script)

# Redirecting output onto a disk.
script_danger(script) if regex.match(`>\s*/dev/(sd|hd|vd|xvd|nvme|mmcblk|disk|dm-|md)`, script)
