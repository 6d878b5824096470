"""The OS account a service runs under.

RabbitMQ and PostgreSQL are started by this process directly (no init system), so when it
runs as root it must drop to the service's own account: PostgreSQL refuses to run as root,
and Debian's RabbitMQ expects its files to belong to `rabbitmq`.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Account:
    """A uid/gid pair and how to become it in a child process."""

    name: str
    uid: int
    gid: int

    @classmethod
    def for_service(cls, service_user: str) -> Account:
        """`service_user` when running as root, else the current user.

        Raises:
            StackError: root, but the service's account does not exist.
        """
        if os.geteuid() != 0:
            entry = pwd.getpwuid(os.geteuid())
            return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)
        try:
            entry = pwd.getpwnam(service_user)
        except KeyError:
            raise StackError(
                f"running as root but the OS account {service_user!r} does not exist; "
                "it comes with the service's OS package"
            ) from None
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid)

    @property
    def is_current(self) -> bool:
        return self.uid == os.geteuid()

    def demote(self) -> Callable[[], None] | None:
        """A `preexec_fn` that switches a child to this account, or None when already it."""
        if self.is_current:
            return None
        name, uid, gid = self.name, self.uid, self.gid

        def _demote() -> None:
            os.setgid(gid)
            os.initgroups(name, gid)
            os.setuid(uid)

        return _demote

    def own(self, path: Path) -> None:
        """Give `path` and everything under it to this account."""
        if self.is_current:
            return
        os.chown(path, self.uid, self.gid)
        for current, dirs, files in os.walk(path):
            os.chown(current, self.uid, self.gid)
            for name in dirs + files:
                os.chown(os.path.join(current, name), self.uid, self.gid, follow_symlinks=False)

    def check_reachable(self, path: Path) -> None:
        """Fail clearly when this account cannot walk down to `path`.

        Raises:
            StackError: a parent directory is closed to the account.
        """
        if self.is_current:
            return
        for parent in reversed(path.resolve().parents):
            st = parent.stat()
            if st.st_uid == self.uid:
                continue
            other_x = st.st_mode & 0o001
            group_x = st.st_mode & 0o010 and st.st_gid == self.gid
            if not (other_x or group_x):
                raise StackError(
                    f"the {self.name!r} account cannot enter {parent}; set SWITCHYARD_STACK_DIR "
                    "to a directory it can reach (for example under /var/tmp)"
                )


class StackError(RuntimeError):
    """The local stack cannot be started, provisioned or stopped; the message says why."""
