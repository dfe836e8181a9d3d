#!/usr/bin/env python3
"""Puts one benchmark run at the top of its section of bench/RESULTS.md.

    bench/results.py RESULTS.md SECTION "Section title" REPORT_FILE [KEEP]

RESULTS.md holds one section per benchmark script (<!-- section:NAME -->), each a list of runs
(<!-- run -->), newest first; only the last KEEP (10) runs of a section are kept and the other
sections are left as they are. Runs found before any section marker (the older single-section
layout) belong to section "runtime".
"""
import re
import sys

HEADER = """# berth benchmark results

Written by the scripts in bench/ (see bench/README.md), one section per script. Newest run
first; the last 10 runs of each are kept. Compare ratios taken within one run: this machine
kind is noisy from run to run.
"""


def parse(text):
    sections, order = {}, []
    current = None
    for line in text.splitlines():
        m = re.match(r"^<!-- section:([a-z0-9_-]+) -->$", line)
        if m:
            current = m.group(1)
            if current not in sections:
                sections[current] = {"title": "", "runs": []}
                order.append(current)
            continue
        if line == "<!-- run -->":
            if current is None:
                current = "runtime"
                sections[current] = {"title": "## berth-runtime vs runc vs crun (bench/runtime.sh)",
                                     "runs": []}
                order.append(current)
            sections[current]["runs"].append([])
            continue
        if current is None:
            continue  # the file header, rewritten
        runs = sections[current]["runs"]
        if runs:
            runs[-1].append(line)
        elif line.startswith("## "):
            sections[current]["title"] = line
    return sections, order


def main():
    path, name, title, report = sys.argv[1:5]
    keep = int(sys.argv[5]) if len(sys.argv) > 5 else 10
    try:
        text = open(path).read()
    except FileNotFoundError:
        text = ""
    sections, order = parse(text)
    if name not in sections:
        sections[name] = {"title": title, "runs": []}
        order.append(name)
    sections[name]["title"] = title
    new_run = open(report).read().rstrip("\n").splitlines()
    sections[name]["runs"] = ([new_run] + sections[name]["runs"])[:keep]
    out = [HEADER]
    for n in order:
        s = sections[n]
        out.append(f"<!-- section:{n} -->")
        out.append(s["title"])
        out.append("")
        for run in s["runs"]:
            while run and run[-1] == "":
                run = run[:-1]
            out.append("<!-- run -->")
            out.extend(run)
            out.append("")
    open(path + ".tmp", "w").write("\n".join(out).rstrip("\n") + "\n")
    import os
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
