#!/usr/bin/env python3
"""docker-py (python3-docker) against berthd: the scenarios of issue 5's acceptance list.

    docker_py.py BASE_URL IMAGE

Prints one line per check, "ok - docker-py: NAME" or "not ok - docker-py: NAME: WHY" (run.sh
counts them), and "#" diagnostics. Every container it makes is named berth-py-* and removed at
the end, whatever happened.
"""
import io
import sys
import tarfile
import threading
import time
import traceback

ENGINE = "docker-py"
results = {"passed": 0, "failed": 0}


def ok(name):
    print(f"ok - {ENGINE}: {name}", flush=True)
    results["passed"] += 1


def not_ok(name, why):
    why = " ".join(str(why).split())[:300]
    print(f"not ok - {ENGINE}: {name}: {why}", flush=True)
    results["failed"] += 1


def check(name):
    """Runs the decorated function as one check: it passes unless it raises."""

    def wrap(fn):
        try:
            fn()
            ok(name)
        except Exception as e:  # noqa: BLE001 — any failure is the check's failure
            not_ok(name, f"{type(e).__name__}: {e}")
            for line in traceback.format_exc().splitlines()[-6:]:
                print(f"#   {line}")
        return fn

    return wrap


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def main():
    base_url, image = sys.argv[1], sys.argv[2]
    try:
        import docker
        import docker.errors
    except ImportError as e:
        print(f"skip - {ENGINE}: all checks: python3-docker not installed ({e})")
        return 0
    client = docker.DockerClient(base_url=base_url, version="auto", timeout=60)
    print(f"# {ENGINE}: docker-py {docker.__version__}, API {client.api.api_version}")

    try:
        run_checks(client, image, docker)
    finally:
        for c in client.containers.list(all=True, filters={"name": "berth-py-"}):
            try:
                c.remove(force=True)
            except Exception as e:  # noqa: BLE001
                print(f"# {ENGINE}: could not remove {c.name}: {e}")
    print(f"# {ENGINE}: {results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


def run_checks(client, image, docker):
    @check("ping and version")
    def _():
        expect(client.ping() is True, "ping did not answer OK")
        v = client.version()
        expect(v.get("ApiVersion") and v.get("Os") == "linux", f"version: {v}")

    @check("images: the test image is listed with its tag")
    def _():
        tags = [t for i in client.images.list() for t in i.tags]
        expect(image in tags, f"{image} not in {tags}")

    @check("run: output and removal")
    def _():
        out = client.containers.run(image, ["echo", "hello from berth"], name="berth-py-run",
                                    remove=True)
        expect(out == b"hello from berth\n", f"output {out!r}")
        names = [c.name for c in client.containers.list(all=True)]
        expect("berth-py-run" not in names, "container still listed after remove=True")

    @check("run: non-zero exit raises ContainerError with the code")
    def _():
        try:
            client.containers.run(image, ["sh", "-c", "echo oops >&2; exit 3"],
                                  name="berth-py-fail", remove=True)
        except docker.errors.ContainerError as e:
            expect(e.exit_status == 3, f"exit status {e.exit_status}")
            expect(b"oops" in (e.stderr or b""), f"stderr {e.stderr!r}")
            return
        raise AssertionError("no ContainerError")

    c = None

    @check("run detached: running, logs, inspect fields")
    def _():
        nonlocal c
        c = client.containers.run(image, ["sh", "-c", "echo started; exec sleep 600"],
                                  name="berth-py-bg", detach=True, labels={"suite": "berth"},
                                  environment={"GREETING": "hi"})
        deadline = time.time() + 10
        while b"started" not in c.logs() and time.time() < deadline:
            time.sleep(0.1)
        c.reload()
        expect(c.status == "running", f"status {c.status}")
        expect(c.logs() == b"started\n", f"logs {c.logs()!r}")
        expect(c.labels.get("suite") == "berth", f"labels {c.labels}")
        expect(c.attrs["State"]["Pid"] > 0, "no pid")
        expect(len(c.id) == 64, f"id {c.id}")
        expect(c.attrs["Name"] == "/berth-py-bg", f"name {c.attrs['Name']}")
        expect("GREETING=hi" in c.attrs["Config"]["Env"], f"env {c.attrs['Config']['Env']}")

    @check("exec_run: output and exit code")
    def _():
        r = c.exec_run(["sh", "-c", "echo $GREETING from exec; exit 5"])
        expect(r.exit_code == 5, f"exit code {r.exit_code}")
        expect(r.output == b"hi from exec\n", f"output {r.output!r}")

    @check("put_archive / get_archive (docker cp)")
    def _():
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as t:
            data = b"copied in\n"
            info = tarfile.TarInfo("cp-test.txt")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        expect(c.put_archive("/tmp", buf.getvalue()), "put_archive returned False")
        r = c.exec_run(["cat", "/tmp/cp-test.txt"])
        expect(r.output == b"copied in\n", f"cat {r.output!r}")
        stream, stat = c.get_archive("/tmp/cp-test.txt")
        raw = b"".join(stream)
        with tarfile.open(fileobj=io.BytesIO(raw)) as t:
            got = t.extractfile("cp-test.txt").read()
        expect(got == b"copied in\n", f"archive content {got!r}")
        expect(stat["name"] == "cp-test.txt", f"stat {stat}")

    @check("events: stop and die are reported")
    def _():
        since = int(time.time()) - 1
        got = []

        def collect():
            for ev in client.events(since=since, decode=True,
                                    filters={"container": "berth-py-bg"},
                                    until=int(time.time()) + 20):
                got.append(ev.get("Action") or ev.get("status"))
                if "die" in got:
                    return

        t = threading.Thread(target=collect, daemon=True)
        t.start()
        c.stop(timeout=5)
        t.join(25)
        expect("die" in got, f"events seen: {got}")

    @check("wait: exit code after stop")
    def _():
        r = c.wait(timeout=30)
        # sleep as pid 1 ignores SIGTERM: killed after the timeout -> 137
        expect(r["StatusCode"] == 137, f"wait {r}")
        c.reload()
        expect(c.status == "exited", f"status {c.status}")

    @check("remove, then inspect is NotFound")
    def _():
        c.remove()
        try:
            client.containers.get("berth-py-bg")
        except docker.errors.NotFound:
            return
        raise AssertionError("container still there")

    @check("errors: unknown image is ImageNotFound, duplicate name is Conflict")
    def _():
        try:
            client.containers.create("berth-no-such-image:latest", ["true"])
            raise AssertionError("create with an unknown image succeeded")
        except docker.errors.ImageNotFound:
            pass
        a = client.containers.create(image, ["true"], name="berth-py-dup")
        try:
            client.containers.create(image, ["true"], name="berth-py-dup")
            raise AssertionError("duplicate name accepted")
        except docker.errors.APIError as e:
            expect(e.status_code == 409, f"status {e.status_code}")
        finally:
            a.remove(force=True)


if __name__ == "__main__":
    sys.exit(main())
