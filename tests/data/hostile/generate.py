#!/usr/bin/env python3
"""Writes the hostile config.json samples of this directory: <name>.json and <name>.expect.

The .expect file holds "parse: <substring>" or "validate: <substring>": the step that must
reject the sample and a substring of its error (tests/unit/oci_hostile_test.cc checks both).
Re-run after changing a sample here; the files are committed so the test needs no Python.
"""
import copy
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))

BASE = {
    "ociVersion": "1.2.0",
    "process": {
        "terminal": False,
        "user": {"uid": 0, "gid": 0},
        "args": ["sh"],
        "env": ["PATH=/usr/bin:/bin"],
        "cwd": "/",
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "hostile",
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
    "linux": {
        "namespaces": [
            {"type": "pid"},
            {"type": "network"},
            {"type": "ipc"},
            {"type": "uts"},
            {"type": "mount"},
        ]
    },
}


def config(mutate):
    c = copy.deepcopy(BASE)
    mutate(c)
    return c


def write(name, data, expect):
    if isinstance(data, (dict, list)):
        data = json.dumps(data, indent=1).encode()
    elif isinstance(data, str):
        data = data.encode()
    with open(os.path.join(HERE, name + ".json"), "wb") as f:
        f.write(data)
    with open(os.path.join(HERE, name + ".expect"), "w") as f:
        f.write(expect + "\n")


def setp(path, value):
    """A mutation setting BASE[path...] = value."""

    def m(c):
        node = c
        for k in path[:-1]:
            node = node.setdefault(k, {}) if isinstance(k, str) else node[k]
        node[path[-1]] = value

    return m


def text_with(field_json, placeholder="@@"):
    """BASE as text with the hostname value replaced by raw JSON text."""
    c = copy.deepcopy(BASE)
    c["hostname"] = placeholder
    return json.dumps(c, indent=1).replace('"%s"' % placeholder, field_json)


def main():
    # Wrong types.
    write("wrong_type_args", config(setp(["process", "args"], "sh -c id")),
          'parse: process.args: must be an array, got string "sh -c id"')
    write("wrong_type_arg_element", config(setp(["process", "args"], ["sh", {"$ne": 1}])),
          "parse: process.args[1]: must be a string, got an object")
    write("wrong_type_linux", config(setp(["linux"], "privileged")),
          'parse: linux: must be an object, got string "privileged"')
    write("wrong_type_readonly", config(setp(["root", "readonly"], "false")),
          'parse: root.readonly: must be a boolean, got string "false"')
    write("top_level_array", [BASE], "parse: invalid config: must be a JSON object, got an array")

    # Deep nesting, in an ignored field and in a real one.
    deep = "[" * 10000 + "]" * 10000
    write("deep_nesting_arrays", text_with(deep), "parse: nested deeper than 64 levels")
    deep_obj = '{"a":' * 10000 + "1" + "}" * 10000
    write("deep_nesting_objects",
          json.dumps(BASE)[:-1] + ', "x-unknown": ' + deep_obj + "}",
          "parse: nested deeper than 64 levels")
    write("deep_nesting_unbalanced", "[" * 100000, "parse: nested deeper than 64 levels")

    # Huge numbers.
    write("huge_uid", config(setp(["process", "user", "uid"], 5000000000)),
          "parse: process.user.uid: 5000000000 out of range")
    write("huge_rlimit_2pow64",
          json.dumps(BASE)[:-1].replace('"cwd": "/"', '"cwd": "/", "rlimits": [{"type": '
                                        '"RLIMIT_NOFILE", "hard": 18446744073709551616, '
                                        '"soft": 1}]') + "}",
          "parse: process.rlimits[0].hard: 1.8446744073709552e+19 out of range")
    write("huge_exponent", text_with("1e999999"), "parse: invalid JSON: line 21, column 14: number overflow: 1e999999")
    write("huge_oom_score", config(setp(["process", "oomScoreAdj"], 99999999999999999999)),
          "parse: process.oomScoreAdj: 1e+20 out of range")
    write("float_gid", config(setp(["process", "user", "gid"], 0.5)),
          "parse: process.user.gid: must be an unsigned integer, got 0.5")

    # Negative ids.
    write("negative_uid", config(setp(["process", "user", "uid"], -1)),
          "parse: process.user.uid: must be an unsigned integer, got -1")
    write("negative_rlimit", config(setp(["process", "rlimits"],
                                         [{"type": "RLIMIT_NPROC", "hard": -1, "soft": -1}])),
          "parse: process.rlimits[0].hard: must be an unsigned integer, got -1")
    write("negative_mapping_host_id",
          config(lambda c: (c["linux"]["namespaces"].append({"type": "user"}),
                            c["linux"].update({"uidMappings": [{"containerID": 0, "hostID": -1,
                                                                 "size": 1}]}))),
          "parse: linux.uidMappings[0].hostID: must be an unsigned integer, got -1")

    # Path escapes.
    write("dotdot_destination",
          config(lambda c: c["mounts"].append({"destination": "/proc/../etc", "type": "bind",
                                               "source": "/", "options": ["rbind"]})),
          'validate: mounts[1].destination: "/proc/../etc" must not contain ".."')
    write("dotdot_destination_trailing",
          config(lambda c: c["mounts"].append({"destination": "/tmp/..", "type": "tmpfs"})),
          'validate: mounts[1].destination: "/tmp/.." must not contain ".."')
    write("mount_over_root",
          config(lambda c: c["mounts"].append({"destination": "//.", "type": "tmpfs"})),
          'validate: mounts[1].destination: cannot mount over "/"')
    write("relative_destination",
          config(lambda c: c["mounts"].append({"destination": "etc", "type": "tmpfs"})),
          'validate: mounts[1].destination: "etc" must be an absolute path')
    write("device_dotdot",
          config(setp(["linux", "devices"], [{"path": "/dev/../etc/shadow", "type": "c",
                                              "major": 1, "minor": 3}])),
          'validate: linux.devices[0].path: "/dev/../etc/shadow" must not contain ".."')
    write("masked_path_dotdot", config(setp(["linux", "maskedPaths"], ["/proc/../../etc"])),
          'validate: linux.maskedPaths[0]: "/proc/../../etc" must not contain ".."')
    write("hook_relative_path",
          config(setp(["hooks"], {"createRuntime": [{"path": "tmp/evil"}]})),
          'validate: hooks.createRuntime[0].path: "tmp/evil" must be an absolute path')
    write("unified_traversal",
          config(setp(["linux", "resources"], {"unified": {"../../cgroup.procs": "1"}})),
          'validate: linux.resources.unified: "../../cgroup.procs" is not a cgroup file name')
    write("hugepage_traversal",
          config(setp(["linux", "resources"],
                      {"hugepageLimits": [{"pageSize": "../../../x", "limit": 1}]})),
          'validate: linux.resources.hugepageLimits[0].pageSize: "../../../x" is not a page size')
    write("cgroups_path_traversal", config(setp(["linux", "cgroupsPath"], "/../../../sys")),
          'validate: linux.cgroupsPath: "/../../../sys" must not contain ".."')

    # Namespaces and mappings.
    write("unknown_namespace",
          config(setp(["linux", "namespaces"], [{"type": "pid"}, {"type": "ipc"}, {"type": "foo"}])),
          'parse: linux.namespaces[2].type: unknown namespace "foo"')
    write("duplicate_namespace",
          config(lambda c: c["linux"]["namespaces"].append({"type": "pid", "path": "/proc/1/ns/pid"})),
          'validate: linux.namespaces[5].type: duplicate namespace "pid"')
    write("overflowing_mapping",
          config(lambda c: (c["linux"]["namespaces"].append({"type": "user"}),
                            c["linux"].update({
                                "uidMappings": [{"containerID": 4294967295, "hostID": 1000,
                                                 "size": 2}],
                                "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}))),
          "validate: linux.uidMappings[0]: containerID 4294967295 + size 2 overflows 32 bits")
    write("userns_without_mappings",
          config(lambda c: c["linux"]["namespaces"].append({"type": "user"})),
          "validate: linux.uidMappings: a new user namespace needs at least one mapping")
    write("mappings_without_userns",
          config(setp(["linux", "uidMappings"], [{"containerID": 0, "hostID": 0, "size": 4294967295}])),
          "validate: linux.uidMappings: user namespace mappings specified, but no user namespace")
    write("hostname_without_uts",
          config(setp(["linux", "namespaces"], [{"type": "pid"}, {"type": "mount"}])),
          "validate: hostname: unable to set hostname without a private UTS namespace")

    # Sysctls.
    write("non_namespaced_sysctl", config(setp(["linux", "sysctl"], {"vm.swappiness": "0"})),
          'validate: linux.sysctl: "vm.swappiness" is not namespaced and cannot be set in a container')
    write("sysctl_escape", config(setp(["linux", "sysctl"], {"net.//.vm.overcommit_memory": "1"})),
          'validate: linux.sysctl: "net.//.vm.overcommit_memory" is not a valid sysctl name')
    write("sysctl_host_ipc",
          config(lambda c: (c["linux"].update({"sysctl": {"kernel.shmmax": "1"}}),
                            c["linux"]["namespaces"].remove({"type": "ipc"}))),
          "validate: linux.sysctl: \"kernel.shmmax\" is not allowed in the host's IPC namespace")

    # Encoding.
    write("invalid_utf8", text_with(b'"\xff\xfe\xfd"'.decode("latin-1")).encode("latin-1"),
          "parse: invalid JSON: line 21, column 15: ill-formed UTF-8 (byte 0xff) in a string")
    write("overlong_utf8_slash", text_with(b'"\xc0\xaf"'.decode("latin-1")).encode("latin-1"),
          "parse: ill-formed UTF-8")
    write("lone_surrogate", text_with('"\\ud800"'), "parse: surrogate")
    write("raw_nul", text_with('"a\x00b"'), "parse: control character")
    write("nul_in_arg", config(setp(["process", "args"], ["/bin/sh\u0000-c", "id"])),
          "validate: process.args[0]: must not contain a NUL byte")
    write("empty_file", "", "parse: invalid JSON")
    write("truncated", json.dumps(BASE)[:50], "parse: invalid JSON")
    write("trailing_garbage", json.dumps(BASE) + " {}", "parse: invalid JSON")

    # Other unsupported or invalid settings.
    write("intel_rdt", config(setp(["linux", "intelRdt"], {"closID": "../../x"})),
          "validate: linux.intelRdt: Intel RDT is not supported")
    write("seccomp_notify_default",
          config(setp(["linux", "seccomp"], {"defaultAction": "SCMP_ACT_NOTIFY",
                                             "listenerPath": "/run/a.sock"})),
          "validate: linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action")
    write("rlimit_soft_above_hard",
          config(setp(["process", "rlimits"], [{"type": "RLIMIT_NOFILE", "hard": 1, "soft": 2}])),
          "validate: process.rlimits[0]: soft limit 2 is greater than hard limit 1")
    write("unknown_capability",
          config(setp(["process", "capabilities"], {"bounding": ["CAP_ALL"]})),
          'validate: process.capabilities.bounding[0]: unknown capability "CAP_ALL"')


if __name__ == "__main__":
    main()
