"""Shared by the resume tests: kill a training command right after its first backup,
run it again, and return the epochs the second run logged."""
import signal
import subprocess
import time


def kill_after_first_backup_then_rerun(cmd, run, env, timeout: float = 600):
    """Start ``cmd``, SIGKILL it as soon as ``run/backup/training_metadata.json`` exists,
    rerun the same command to the end; return the epoch numbers the rerun appended to
    ``run/log.csv``. Asserts that a backup was made and that the rerun succeeded."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    meta = run / "backup" / "training_metadata.json"
    deadline = time.time() + 300
    while not meta.is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert meta.is_file(), proc.stderr.read().decode()[-2000:]
    first = (run / "log.csv").read_text().splitlines()[1:]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stderr[-3000:]
    epochs = [int(r.split(",")[0]) for r in (run / "log.csv").read_text().splitlines()[1:]]
    return epochs[len(first):]
