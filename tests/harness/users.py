"""A real unprivileged user for the tests, and a private directory of theirs.

`runuser -u` gives a process the user's real, effective and saved ids and no capability, as a
login does; the user is a system user created here, as root, when missing, and kept.
"""
import fcntl
import os
import pwd
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

from harness.paths import BUILD

TEST_USER = "hbreak-if-test"


def real_user() -> pwd.struct_passwd:
    """The test user, created on first use (needs root)."""
    BUILD.mkdir(parents=True, exist_ok=True)
    # pytest-xdist workers may get here together; useradd refuses to run beside another.
    with open(BUILD / "user.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return pwd.getpwnam(TEST_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                            "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                            "--comment", "hbreak-if tests", TEST_USER],
                           check=True, capture_output=True, text=True)
            return pwd.getpwnam(TEST_USER)


def as_user(user: pwd.struct_passwd) -> tuple:
    """The prefix that runs a command as `user`."""
    return ("runuser", "-u", user.pw_name, "--")


@contextmanager
def private_directory(user: pwd.struct_passwd, prefix: str):
    """A directory owned by `user`, mode 0700, like their home: what root copies into it is
    made theirs by `give`. (pytest's temporary directories are private to root.)"""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        give(user, root)
        os.chmod(root, 0o700)
        yield root
    finally:
        shutil.rmtree(root)


def give(user: pwd.struct_passwd, path: Path):
    """Make `path` and everything under it belong to `user`."""
    for p in [path, *path.rglob("*")]:
        os.chown(p, user.pw_uid, user.pw_gid, follow_symlinks=False)
