"""The one adapter around pygit2: open or mirror a repository, resolve refs, read commit trees.

Remote repositories are mirrored into a bare clone in the cache folder (one per URL, named
by a hash of it) and fetched with `+refs/heads/*` and `+refs/tags/*` mapped onto themselves,
so a branch or tag name means the same in the mirror as on the remote. The URL is never
written to the clone's config: an anonymous remote is made for each fetch, credentials come
from `RemoteCallbacks` at that moment, and every message is scrubbed of them. Files are read
straight from commit objects, never from a checkout. All calls block: run them on a worker
thread, one `GitSource` per thread.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pygit2
from pygit2 import enums

from reconciler import errors
from reconciler.source import settings, signatures, tree
from reconciler.source.revision import FileEntry, Revision

log = logging.getLogger(__name__)

REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
_LISTED = 5  # names of each kind shown when a revision is not found
_LINK, _SUBMODULE = 0o120000, 0o160000
_GitObject = pygit2.Object | pygit2.Commit | pygit2.Tree | pygit2.Tag | pygit2.Blob


class _Callbacks(pygit2.RemoteCallbacks):
    """Hands libgit2 the configured token or SSH key, once: a rejected credential is final."""

    def __init__(self, *, auth: settings.GitAuth, token: str | None, passphrase: str) -> None:
        super().__init__()
        self._auth, self._token, self._passphrase = auth, token, passphrase
        self._asked = False

    def credentials(self, url: str, username_from_url: str | None, allowed_types: Any) -> Any:
        user = username_from_url or self._auth.username
        if allowed_types == enums.CredentialType.USERNAME:  # ssh asks for the user name first
            return pygit2.Username(user)
        if self._asked:
            raise errors.SourceError("the remote rejected the credentials")
        self._asked = True
        if allowed_types & enums.CredentialType.SSH_KEY and self._auth.ssh_key_file:
            key = str(self._auth.ssh_key_file)
            public = str(self._auth.ssh_public_key_file or f"{key}.pub")
            return pygit2.Keypair(user, public, key, self._passphrase)
        if allowed_types & enums.CredentialType.USERPASS_PLAINTEXT and self._token is not None:
            return pygit2.UserPass(self._auth.username, self._token)
        raise errors.SourceError("the remote asks for credentials and none are configured")


def _secret(*, env_name: str | None, file: Path | None, environ: Mapping[str, str]) -> str | None:
    if env_name:
        if env_name not in environ:
            raise errors.UsageError(f"environment variable {env_name} is not set")
        return environ[env_name].strip()
    if file:
        try:
            return file.read_text().strip()
        except OSError as exc:
            raise errors.UsageError(f"cannot read {file}: {exc.strerror}") from None
    return None


class GitSource:
    """A repository (local, or a mirror of a remote) and the revisions in it."""

    def __init__(
        self,
        *,
        repo: pygit2.Repository,
        config: settings.SourceSettings,
        environ: Mapping[str, str],
    ) -> None:
        self._repo, self._config, self._environ = repo, config, environ
        self._sizes: dict[str, int] = {}  # blob sizes of the latest tree listed, by blob id

    @classmethod
    def open(
        cls, config: settings.SourceSettings, *, environ: Mapping[str, str] | None = None
    ) -> GitSource:
        """Open `config.path` in place, or the mirror of `config.url` (cloned on first use)."""
        env = os.environ if environ is None else environ
        if config.path is not None:
            try:
                repo = pygit2.Repository(str(config.path), flags=enums.RepositoryOpenFlag.NO_SEARCH)
            except pygit2.GitError as exc:
                raise errors.SourceError(
                    f"cannot open {config.location}: {_first_line(exc)}"
                ) from None
            return cls(repo=repo, config=config, environ=env)
        target = cache_path(config)
        if not target.exists():
            _clone(config, target=target, environ=env)
        return cls(repo=pygit2.Repository(str(target)), config=config, environ=env)

    @property
    def location(self) -> str:
        return self._config.location

    def fetch(self) -> None:
        """Bring the mirror up to date with the remote (nothing to do for a local repository)."""
        if self._config.url is not None:
            _fetch(self._repo, config=self._config, environ=self._environ)

    def fetch_refs(self, refs: Sequence[str]) -> None:
        """Also fetch `refs` (full names, e.g. `refs/pull/7/head`) from a remote into the
        same names, leaving every other ref alone; one the remote lacks is skipped."""
        if self._config.url is not None and refs:
            _fetch(
                self._repo,
                config=self._config,
                environ=self._environ,
                refspecs=tuple(f"+{r}:{r}" for r in refs),
                prune=False,
            )

    def resolve(self, ref: str | None = None) -> Revision:
        """The commit `ref` (default: the configured ref) names: a branch, a tag, or any
        revision expression git accepts ((short) sha, `HEAD~3`, `main^2`, `v1.0^{commit}`).

        `Revision.ref` is the full ref name (`refs/heads/main`) or the expression as given. With
        trusted keys configured, the commit's signature is verified or `SignatureError` raised.
        """
        name = self._config.ref if ref is None else ref
        commit, full_name = self._lookup(name)
        revision = _revision(commit, ref=full_name)
        trusted = self._config.trusted_keys
        if trusted is None:
            return revision
        signature, payload = commit.gpg_signature
        signer = signatures.verify(
            sha=revision.sha, signature=signature, payload=payload or b"", trusted=trusted
        )
        return dataclasses.replace(
            revision, signature_verified=True, signer=signer.identity, signing_key=signer.key
        )

    def tree(self, revision: Revision, *, subpath: str | None = None) -> CommitTree:
        """The files of `revision` under `subpath` (default: the configured sub-path)."""
        cleaned = tree.check_subpath(self._config.subpath if subpath is None else subpath)
        root = self._subtree(revision.sha, subpath=cleaned)
        if root is None:
            raise tree.SubpathError(
                f'sub-path "{cleaned}" does not exist in commit {revision.short}'
            )
        return CommitTree(repo=self._repo, root=root, revision=revision, sizes=self._sizes)

    def changed_paths(
        self, old_sha: str | None, new_sha: str, *, subpath: str | None = None
    ) -> list[str]:
        """Paths (relative to `subpath`) that differ between two commits; a rename gives both."""
        cleaned = tree.check_subpath(self._config.subpath if subpath is None else subpath)
        old = self._subtree(old_sha, subpath=cleaned) if old_sha else None
        new = self._subtree(new_sha, subpath=cleaned)
        if old is None:
            diff = new.diff_to_tree(swap=True) if new is not None else None
        else:
            diff = old.diff_to_tree(new) if new is not None else old.diff_to_tree()
        if diff is None:
            return []
        paths = {
            path for delta in diff.deltas for path in (delta.old_file.path, delta.new_file.path)
        }
        return sorted(paths)

    def tree_changes(
        self, old: Revision, new: Revision, *, subpath: str | None = None
    ) -> dict[str, FileEntry | None] | None:
        """The files that differ between two commits (under `subpath`), each with its entry
        in `new` (None: gone), from a tree-to-tree diff that skips unchanged folders.

        None when the diff cannot stand for the listing: the sub-path is missing from either
        commit, or a symlink or submodule changed (a link's file is its target's, which may
        be anywhere): list the whole tree then."""
        cleaned = tree.check_subpath(self._config.subpath if subpath is None else subpath)
        before = self._subtree(old.sha, subpath=cleaned)
        after = self._subtree(new.sha, subpath=cleaned)
        if before is None or after is None:
            return None
        found: dict[str, FileEntry | None] = {}
        for delta in before.diff_to_tree(after).deltas:
            old_file, new_file = delta.old_file, delta.new_file
            if {old_file.mode, new_file.mode} & {_LINK, _SUBMODULE}:
                return None
            found.setdefault(old_file.path, None)
            if delta.status is not enums.DeltaStatus.DELETED:
                _, size = self._repo.odb.read_header(new_file.id)
                executable = new_file.mode == enums.FileMode.BLOB_EXECUTABLE
                found[new_file.path] = FileEntry(
                    path=new_file.path, blob_id=str(new_file.id), size=size, executable=executable
                )
        return found

    def _subtree(self, sha: str, *, subpath: str) -> pygit2.Tree | None:
        root = self._lookup(sha)[0].tree
        if not subpath:
            return root
        try:
            found = root[subpath]
        except KeyError:
            return None
        if not isinstance(found, pygit2.Tree):
            raise tree.SubpathError(f'sub-path "{subpath}" is not a folder in commit {sha[:12]}')
        return found

    def _lookup(self, name: str) -> tuple[pygit2.Commit, str]:
        candidates = (
            [name]
            if name.startswith("refs/") or name == "HEAD"
            else [f"refs/heads/{name}", f"refs/tags/{name}", f"refs/remotes/{name}"]
        )
        for candidate in candidates:
            reference = self._repo.references.get(candidate)
            if reference is None:
                continue
            try:
                target = reference.peel()
            except (KeyError, pygit2.GitError):  # HEAD of an empty repository or bare mirror
                continue
            return self._peel(target, name=name), candidate
        try:  # any expression git accepts: a (short) sha, HEAD~3, main^2, v1.0^{commit}
            return self._peel(self._repo.revparse_single(name), name=name), name
        except (KeyError, ValueError, pygit2.GitError):
            pass
        raise errors.RevisionNotFound(
            f'revision "{name}" not found in {self.location} ({self._names()})'
        )

    def _peel(self, obj: _GitObject, *, name: str) -> pygit2.Commit:
        try:
            return obj.peel(pygit2.Commit)
        except (pygit2.GitError, ValueError):
            raise errors.RevisionNotFound(
                f'revision "{name}" in {self.location} is not a commit'
            ) from None

    def _names(self) -> str:
        refs = self._repo.listall_references()
        shown = []
        for kind, prefix in (("branches", "refs/heads/"), ("tags", "refs/tags/")):
            names = sorted(r.removeprefix(prefix) for r in refs if r.startswith(prefix))
            more = f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
            shown.append(f"{kind}: {', '.join(names[:_LISTED]) or 'none'}{more}")
        return "; ".join(shown)


class CommitTree:
    """The files of one commit (or one folder of it), read from the object database.

    A blob's size is read from its header once: `sizes` (shared by the trees of one
    source) holds those of the latest tree listed, so the next commit reads only the
    headers of the blobs it added."""

    def __init__(
        self,
        *,
        repo: pygit2.Repository,
        root: pygit2.Tree,
        revision: Revision,
        sizes: dict[str, int] | None = None,
    ) -> None:
        self._repo, self._root, self._revision = repo, root, revision
        self._known = sizes if sizes is not None else {}
        self._files: dict[str, FileEntry] | None = None
        self._problems: list[errors.Problem] = []
        self._links = False

    @property
    def revision(self) -> Revision | None:
        return self._revision

    def entries(self) -> Iterator[FileEntry]:
        yield from self._listing().values()

    def read(self, entry: FileEntry) -> bytes:
        blob = self._repo[entry.blob_id]
        assert isinstance(blob, pygit2.Blob)
        return bytes(blob.data)

    def problems(self) -> list[errors.Problem]:
        self._listing()
        return list(self._problems)

    def entry(self, path: str) -> FileEntry | None:
        """The file at `path` alone, without listing the tree (None: no regular file there);
        a symlink is resolved as the listing resolves it."""
        node = self._node(path)
        if node.kind is tree.NodeKind.LINK:
            return self._listing().get(path)
        if node.kind is not tree.NodeKind.FILE:
            return None
        item = self._root[path]
        return self._entry(path, item.id, mode=item.filemode)

    @property
    def has_links(self) -> bool:
        """Whether the tree holds a symlink (followed or not): a change to any file may then
        change a linked path too, so a diff of two trees does not list all that changed."""
        self._listing()
        return self._links

    def _listing(self) -> dict[str, FileEntry]:
        if self._files is None:
            found: dict[str, FileEntry] = {}
            links: list[tuple[str, pygit2.Blob]] = []
            self._walk(self._root, prefix="", found=found, links=links)
            self._links = bool(links)
            for path, blob in links:
                self._add_link(path, target=blob.data.decode(errors="replace"), found=found)
            self._files = dict(sorted(found.items()))
            self._problems.sort()
            self._known.clear()  # bounded: the sizes of this listing only
            self._known.update((e.blob_id, e.size) for e in self._files.values())
        return self._files

    def _walk(
        self,
        node: pygit2.Tree,
        *,
        prefix: str,
        found: dict[str, FileEntry],
        links: list[tuple[str, pygit2.Blob]],
    ) -> None:
        for item in node:
            path = f"{prefix}{item.name}"
            if isinstance(item, pygit2.Tree):
                self._walk(item, prefix=f"{path}/", found=found, links=links)
            elif item.filemode == _LINK and isinstance(item, pygit2.Blob):
                links.append((path, item))
            elif isinstance(item, pygit2.Blob):
                found[path] = self._entry(path, item.id, mode=item.filemode)
            elif item.filemode == _SUBMODULE:
                self._problems.append(errors.Problem(path=path, message="submodules are not read"))

    def _entry(self, path: str, oid: pygit2.Oid, *, mode: int) -> FileEntry:
        blob_id = str(oid)
        size = self._known.get(blob_id)
        if size is None:
            _, size = self._repo.odb.read_header(oid)
        executable = mode == pygit2.enums.FileMode.BLOB_EXECUTABLE
        return FileEntry(path=path, blob_id=blob_id, size=size, executable=executable)

    def _add_link(self, path: str, *, target: str, found: dict[str, FileEntry]) -> None:
        resolved = tree.resolve_symlink(link=path, target=target, lookup=self._node)
        if isinstance(resolved, errors.Problem):
            self._problems.append(resolved)
            return
        item = self._root[resolved]
        found[path] = self._entry(path, item.id, mode=item.filemode)

    def _node(self, path: str) -> tree.Node:
        try:
            item = self._root[path]
        except KeyError:
            return tree.Node(kind=tree.NodeKind.MISSING)
        if isinstance(item, pygit2.Tree):
            return tree.Node(kind=tree.NodeKind.DIR)
        if item.filemode == _LINK:
            return tree.Node(kind=tree.NodeKind.LINK, target=item.data.decode(errors="replace"))
        if isinstance(item, pygit2.Blob):
            return tree.Node(kind=tree.NodeKind.FILE)
        return tree.Node(kind=tree.NodeKind.MISSING)


def push_branch(
    config: settings.SourceSettings, *, branch: str, environ: Mapping[str, str] | None = None
) -> None:
    """Push `branch` of the mirror of `config.url` to the remote, under the same name, with
    the source's credentials."""
    env = os.environ if environ is None else environ
    auth = config.auth
    token = _secret(env_name=auth.token_env, file=auth.token_file, environ=env)
    passphrase = _secret(env_name=auth.ssh_passphrase_env, file=None, environ=env) or ""
    repo = _open_local(cache_path(config))
    remote = repo.remotes.create_anonymous(config.url or "")
    ref = f"refs/heads/{branch}"
    try:
        remote.push(
            [f"{ref}:{ref}"], callbacks=_Callbacks(auth=auth, token=token, passphrase=passphrase)
        )
    except (pygit2.GitError, errors.SourceError) as exc:
        reason = settings.redact_text(_first_line(exc), secrets=(token or "", passphrase))
        raise errors.SourceError(f"cannot push {branch} to {config.location}: {reason}") from None


def cache_path(config: settings.SourceSettings) -> Path:
    """Where the mirror of `config.url` lives: one bare repository per URL, credentials left out."""
    url = settings.redact_url(config.url or "")
    digest = hashlib.sha256(url.encode()).hexdigest()[:24]
    return config.cache_dir / f"{digest}.git"


def _clone(config: settings.SourceSettings, *, target: Path, environ: Mapping[str, str]) -> None:
    """Fetch into a fresh bare repository next to `target`, then move it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".clone-", dir=target.parent))
    try:
        _fetch(pygit2.init_repository(str(scratch), bare=True), config=config, environ=environ)
        try:
            os.rename(scratch, target)
        except OSError as exc:
            if not target.exists():  # another process may have won the race: its clone is as good
                raise errors.SourceError(f"cannot create {target}: {exc.strerror}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _fetch(
    repo: pygit2.Repository,
    *,
    config: settings.SourceSettings,
    environ: Mapping[str, str],
    refspecs: Sequence[str] = REFSPECS,
    prune: bool = True,
) -> None:
    auth = config.auth
    token = _secret(env_name=auth.token_env, file=auth.token_file, environ=environ)
    passphrase = _secret(env_name=auth.ssh_passphrase_env, file=None, environ=environ) or ""
    callbacks = _Callbacks(auth=auth, token=token, passphrase=passphrase)
    remote = repo.remotes.create_anonymous(config.url or "")
    try:
        remote.fetch(
            refspecs=list(refspecs),
            callbacks=callbacks,
            prune=enums.FetchPrune.PRUNE if prune else enums.FetchPrune.NO_PRUNE,
        )
    except (pygit2.GitError, errors.SourceError) as exc:
        reason = settings.redact_text(_first_line(exc), secrets=(token or "", passphrase))
        raise errors.SourceError(f"cannot fetch {config.location}: {reason}") from None
    log.info("fetched %s", config.location)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _revision(commit: pygit2.Commit, *, ref: str) -> Revision:
    offset = timezone(timedelta(minutes=commit.commit_time_offset))
    committed = datetime.fromtimestamp(commit.commit_time, tz=offset).astimezone(UTC)
    author = f"{commit.author.name} <{commit.author.email}>"
    return Revision(
        sha=str(commit.id), ref=ref, committed_at=committed, author=author, message=commit.message
    )


def init_and_commit(path: Path, *, message: str, branch: str = "main") -> str:
    """Make `path` a new repository on `branch` whose first commit holds every file in it.

    The author is the user's git identity when one is configured, else `reconciler`.
    """
    repo = pygit2.init_repository(str(path), initial_head=branch)
    repo.index.add_all()
    repo.index.write()
    tree_id = repo.index.write_tree()
    try:
        author = repo.default_signature
    except (KeyError, pygit2.GitError):
        author = pygit2.Signature("reconciler", "reconciler@localhost")
    oid = repo.create_commit(f"refs/heads/{branch}", author, author, message, tree_id, [])
    return str(oid)


def current_branch(path: Path) -> str | None:
    """The branch a local repository's HEAD points at, or None when HEAD is detached."""
    try:
        repo = pygit2.Repository(str(path), flags=enums.RepositoryOpenFlag.NO_SEARCH)
    except pygit2.GitError as exc:
        raise errors.SourceError(f"cannot open {path}: {_first_line(exc)}") from None
    if repo.head_is_detached:
        return None
    target = repo.references["HEAD"].target
    return str(target).removeprefix("refs/heads/")


def commit_file_on_branch(
    path: Path, *, branch: str, files: Mapping[str, bytes], message: str, base: str = "HEAD"
) -> str:
    """Commit `files` (repository-relative POSIX paths) on top of `base` (a ref or sha,
    default HEAD) onto a new `branch`.

    HEAD, the index and the working tree are left alone; the branch must not exist yet.
    Returns the new commit's sha.
    """
    try:
        repo = pygit2.Repository(str(path), flags=enums.RepositoryOpenFlag.NO_SEARCH)
    except pygit2.GitError as exc:
        raise errors.SourceError(f"cannot open {path}: {_first_line(exc)}") from None
    if f"refs/heads/{branch}" in repo.references:
        raise errors.UsageError(f'branch "{branch}" already exists in {path}')
    if not pygit2.reference_is_valid_name(f"refs/heads/{branch}"):
        raise errors.UsageError(f'"{branch}" is not a valid branch name')
    parent = repo.revparse_single(base).peel(pygit2.Commit)
    index = pygit2.Index()
    index.read_tree(parent.tree)
    for name, data in files.items():
        index.add(pygit2.IndexEntry(name, repo.create_blob(data), enums.FileMode.BLOB))
    tree_id = index.write_tree(repo)
    try:
        author = repo.default_signature
    except (KeyError, pygit2.GitError):
        author = pygit2.Signature("reconciler", "reconciler@localhost")
    oid = repo.create_commit(f"refs/heads/{branch}", author, author, message, tree_id, [parent.id])
    return str(oid)


def fast_forward(path: Path, *, branch: str, to: str) -> bool:
    """Move `branch` of the local repository at `path` to the commit `to` when `to`
    descends from it (a fast-forward); False, and nothing moved, when it does not. A
    checked-out branch's index and working tree are left alone: the daemon reads commits,
    not the working tree."""
    repo = _open_local(path)
    name = f"refs/heads/{branch}"
    if name not in repo.references:
        raise errors.UsageError(f'branch "{branch}" does not exist in {path}')
    current = repo.references[name].peel(pygit2.Commit).id
    target = repo.revparse_single(to).peel(pygit2.Commit).id
    if current != target and not repo.descendant_of(target, current):
        return False
    repo.references[name].set_target(target, f"fast-forward to {target}")
    return True


def append_commit(path: Path, *, ref: str, files: Mapping[str, bytes], message: str) -> str:
    """Commit a tree of exactly `files` onto `ref` (created when absent) in the repository
    at `path`, bare or not; HEAD, the index and the working tree are left alone."""
    repo = _open_local(path)
    index = pygit2.Index()
    for name, data in files.items():
        index.add(pygit2.IndexEntry(name, repo.create_blob(data), enums.FileMode.BLOB))
    parents = [repo.references[ref].peel(pygit2.Commit).id] if ref in repo.references else []
    author = pygit2.Signature("reconciler", "reconciler@localhost")
    return str(repo.create_commit(ref, author, author, message, index.write_tree(repo), parents))


def file_history(path: Path, *, ref: str, name: str) -> list[tuple[str, bytes | None]]:
    """`(commit sha, the file `name` in it or None)` along `ref`'s first parents, oldest
    first; empty when `ref` does not exist."""
    repo = _open_local(path)
    if ref not in repo.references:
        return []
    found: list[tuple[str, bytes | None]] = []
    commit: pygit2.Commit | None = repo.references[ref].peel(pygit2.Commit)
    while commit is not None:
        try:
            blob: object = commit.tree[name]
        except KeyError:
            blob = None
        found.append((str(commit.id), blob.data if isinstance(blob, pygit2.Blob) else None))
        commit = commit.parents[0] if commit.parents else None
    return found[::-1]


def has_branch(path: Path, branch: str) -> bool:
    """Whether the repository (or mirror) at `path` has the branch `branch`."""
    return f"refs/heads/{branch}" in _open_local(path).references


def merged_by(path: Path, *, branch: str, commit: str) -> Revision | None:
    """The commit along `branch`'s first parents that brought `commit` onto it: the oldest
    one that is `commit` or descends from it (a merge commit, or `commit` itself after a
    fast-forward). None when `branch` does not contain `commit`, or either is unknown."""
    repo = _open_local(path)
    name = f"refs/heads/{branch}"
    if name not in repo.references:
        return None
    try:
        target = repo.revparse_single(commit).peel(pygit2.Commit).id
    except (KeyError, ValueError, pygit2.GitError):
        return None
    found: pygit2.Commit | None = None
    current = repo.references[name].peel(pygit2.Commit)
    while current.id == target or repo.descendant_of(current.id, target):
        found = current
        if current.id == target or not current.parents:
            break
        current = current.parents[0]
    return None if found is None else _revision(found, ref=name)


def first_parents(
    path: Path, *, branch: str, since: str, name: str, limit: int = 1000
) -> list[tuple[Revision, bytes | None]]:
    """`branch`'s commits after `since` along first parents, newest first (at most
    `limit`), each with the file `name` in it (None where absent). The walk stops at
    `since` or at the first commit `since` descends from."""
    repo = _open_local(path)
    ref = f"refs/heads/{branch}"
    if ref not in repo.references:
        return []
    try:
        stop = repo.revparse_single(since).peel(pygit2.Commit).id
    except (KeyError, ValueError, pygit2.GitError):
        return []
    found: list[tuple[Revision, bytes | None]] = []
    current: pygit2.Commit | None = repo.references[ref].peel(pygit2.Commit)
    while current is not None and len(found) < limit:
        if current.id == stop or repo.descendant_of(stop, current.id):
            break
        try:
            blob: object = current.tree[name]
        except KeyError:
            blob = None
        data = blob.data if isinstance(blob, pygit2.Blob) else None
        found.append((_revision(current, ref=ref), data))
        current = current.parents[0] if current.parents else None
    return found


def _open_local(path: Path) -> pygit2.Repository:
    try:
        return pygit2.Repository(str(path), flags=enums.RepositoryOpenFlag.NO_SEARCH)
    except pygit2.GitError as exc:
        raise errors.SourceError(f"cannot open {path}: {_first_line(exc)}") from None
