"""Login answers across a pause of a proxy back end (docs/proxy.md, docs/benchmarks.md).

Usage, on a running reference proxy cluster (`mailha up proxy` prints its run id):
    .venv/bin/python scripts/experiments/pause_auth.py RUN_ID [PAUSES] [PAUSE_S]

Six clients log in as be2's users (POP3 and IMAP, through the load balancers' VIP) in a loop
while be2 is paused (`docker pause`, the cgroup freezer) for PAUSE_S seconds (default 8) and
unpaused again, PAUSES times (default 6). Prints every distinct answer with its count, split
into before / during / after the pauses, and the ones that are neither success nor a temporary
error, with when they happened relative to the nearest unpause. Take the cluster down with
`mailha down RUN_ID`.
"""
import collections
import imaplib
import poplib
import subprocess
import sys
import threading
import time

VIP = "10.241.0.200"
USERS = [f"user{i}@example.test" for i in range(11, 21)]


def attempt(proto: str, user: str) -> str:
    pw = "pw-" + user.split("@")[0]
    try:
        if proto == "pop3":
            c = poplib.POP3(VIP, 110, timeout=10)
            c.user(user)
            c.pass_(pw)
            c.quit()
        else:
            c = imaplib.IMAP4(VIP, 143, timeout=10)
            c.login(user, pw)
            c.logout()
        return "ok"
    except Exception as e:  # noqa: BLE001 — every answer is what this measures
        return f"{type(e).__name__}: {e}"[:140]


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[2].strip())
        return 2
    be2 = f"mailha-{sys.argv[1]}-be2-1"
    pauses = int(sys.argv[2]) if len(sys.argv) > 2 else 6
    pause_s = float(sys.argv[3]) if len(sys.argv) > 3 else 8.0
    stop, lock = threading.Event(), threading.Lock()
    answers: list[tuple[float, float, str, str, str]] = []  # start, end, proto, user, answer

    def client(n: int) -> None:
        i = n
        while not stop.is_set():
            i += 1
            proto, user = ("pop3", "imap")[n % 2], USERS[i % len(USERS)]
            t0 = time.time()
            a = attempt(proto, user)
            with lock:
                answers.append((t0, time.time(), proto, user, a))
            time.sleep(0.05)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(6)]
    for t in threads:
        t.start()
    windows = []
    time.sleep(3)
    for k in range(pauses):
        t_p = time.time()
        subprocess.run(["docker", "pause", be2], capture_output=True)
        time.sleep(pause_s)
        t_u = time.time()
        subprocess.run(["docker", "unpause", be2], capture_output=True)
        windows.append((t_p, t_u))
        print(f"pause {k + 1}/{pauses} done", flush=True)
        time.sleep(6)
    stop.set()
    for t in threads:
        t.join(timeout=15)
    phase = collections.Counter()
    odd = []
    for s, e, proto, user, a in answers:
        inside = any(p <= s <= u for p, u in windows)
        phase[("during" if inside else "outside", proto, a if a == "ok" else a[:90])] += 1
        temporary = any(k in a for k in ("UNAVAILABLE", "SYS/TEMP", "emporar", "timed out"))
        if a != "ok" and not temporary:
            near = min(windows, key=lambda w: abs(s - w[1]))
            odd.append(f"{proto} {user} began {s - near[1]:+.2f} s from an unpause, took {e - s:.2f} s: {a}")
    for key, n in sorted(phase.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"{n:6d}  {key[0]:8s} {key[1]:5s} {key[2]}")
    print(f"{len(odd)} answers neither success nor temporary:")
    for line in odd[:30]:
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
