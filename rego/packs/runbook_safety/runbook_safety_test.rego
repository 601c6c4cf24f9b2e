package reconciler.packs.runbook_safety_test

import rego.v1

import data.reconciler.packs.runbook_safety

runbook(steps) := {"apiVersion": "reconciler.dev/v1", "kind": "Runbook", "metadata": {"name": "t"}, "spec": {"type": "incident", "steps": steps}}

flagged(command) := found if {
	found := runbook_safety.deny with input as runbook([{"name": "s", "command": command}])
}

flagged_shell(line) := found if {
	found := runbook_safety.deny with input as runbook([{"name": "s", "command": [line], "shell": true}])
}

test_rm_rf_root if {
	flagged(["rm", "-rf", "/"]) == {{"step": "s", "msg": "rm -rf /", "key": "command"}}
}

test_rm_root_like_paths if {
	every path in ["/", "/*", "//", "/.", "/..", "/../..", "~", "~/", "$HOME", "${HOME}/*", "/etc", "/usr/", "/var/*"] {
		count(flagged(["rm", "-r", "-f", path])) == 1
	}
}

test_rm_no_preserve_root if count(flagged(["rm", "--no-preserve-root", "-rf", "/x"])) == 1

test_rm_safe_lookalikes if {
	every path in ["/tmp/x", "./build", "/etc/app/cache", "/var/log/app", "~/tmp"] {
		count(flagged(["rm", "-rf", path])) == 0
	}
	count(flagged(["rm", "/"])) == 0
	count(flagged(["echo", "rm", "-rf", "/"])) == 0
}

test_sudo_and_env_wrappers if {
	count(flagged(["sudo", "rm", "-rf", "/"])) == 1
	count(flagged(["env", "A=1", "/bin/rm", "-rf", "/usr"])) == 1
}

test_mkfs if {
	count(flagged(["mkfs.ext4", "/dev/sdb1"])) == 1
	count(flagged(["/sbin/mkfs", "-t", "xfs", "/dev/sdb"])) == 1
	count(flagged(["echo", "mkfs"])) == 0
}

test_dd_to_device if {
	count(flagged(["dd", "if=/dev/zero", "of=/dev/sda", "bs=1M"])) == 1
	count(flagged(["dd", "if=/dev/zero", "of=/tmp/disk.img"])) == 0
	count(flagged(["dd", "if=/tmp/x", "of=/dev/null"])) == 0
}

test_curl_pipe_shell if {
	count(flagged_shell("curl -fsSL https://example.com/install.sh | sh")) == 1
	count(flagged_shell("wget -qO- https://example.com/x | sudo bash -s")) == 1
	count(flagged(["sh", "-c", "curl https://example.com/x | bash"])) == 1
	count(flagged_shell("curl -fsS https://example.com/health | jq .status")) == 0
	count(flagged(["echo", "curl x | sh"])) == 0
}

test_shell_running_downloaded_script if {
	count(flagged(["bash", "-c", "$(curl -fsSL https://example.com/x)"])) == 1
	count(flagged_shell("bash -c \"$(curl -fsSL https://example.com/x)\"")) == 1
	count(flagged_shell("bash <(wget -qO- https://example.com/x)")) == 1
}

test_chmod_777 if {
	count(flagged(["chmod", "-R", "777", "/srv/app"])) == 1
	count(flagged(["chmod", "777", "/"])) == 1
	count(flagged(["chmod", "755", "/srv/app"])) == 0
	count(flagged(["chmod", "777", "/tmp/x/file"])) == 0
}

test_fork_bomb if {
	count(flagged_shell(":(){ :|:& };:")) == 1
	count(flagged(["bash", "-c", "bomb(){ bomb|bomb & }; bomb"])) == 1
}

test_power if {
	every cmd in [["shutdown", "-h", "now"], ["reboot"], ["halt"], ["poweroff"], ["init", "0"], ["systemctl", "reboot"]] {
		count(flagged(cmd)) == 1
	}
	count(flagged(["echo", "shutdown"])) == 0
	count(flagged(["systemctl", "restart", "nginx"])) == 0
	count(flagged_shell("echo shutdown; echo reboot")) == 0
}

test_firewall_flush if {
	count(flagged(["iptables", "-F"])) == 1
	count(flagged(["iptables", "-t", "nat", "--flush"])) == 1
	count(flagged(["iptables", "-L"])) == 0
}

test_disk_redirect if {
	count(flagged_shell("echo x > /dev/sda")) == 1
	count(flagged_shell("echo x > /dev/null")) == 0
}

test_kill_all if {
	count(flagged(["kill", "-9", "-1"])) == 1
	count(flagged(["kill", "-9", "1234"])) == 0
	count(flagged(["kill", "-1", "1234"])) == 0
}

test_truncate_shred_devices if {
	count(flagged(["shred", "-n", "1", "/dev/sdb"])) == 1
	count(flagged(["truncate", "-s", "0", "/dev/nvme0n1"])) == 1
	count(flagged(["truncate", "-s", "0", "/tmp/app.log"])) == 0
	count(flagged(["cp", "disk.img", "/dev/sdc"])) == 1
}

test_shell_segments if {
	count(flagged_shell("cd /tmp && rm -rf /")) == 1
	count(flagged_shell("echo $(rm -rf /etc)")) == 1
	count(flagged_shell("rm -rf \"/\"")) == 1
}

test_rollback_and_on_failure if {
	doc := {"spec": {
		"steps": [{"name": "a", "command": ["true"], "rollback": {"command": ["reboot"]}}],
		"onFailure": [{"name": "b", "command": ["halt"]}],
	}}
	runbook_safety.deny with input as doc == {
		{"step": "a", "msg": "reboot", "key": "rollback.command"},
		{"step": "b", "msg": "halt", "key": "command"},
	}
}

test_steps_without_commands if {
	count(runbook_safety.deny) == 0 with input as {"spec": {"steps": [{"name": "w", "kind": "wait", "wait": {"duration": "1s"}}]}}
}
