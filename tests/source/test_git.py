"""GitSource against real repositories: mirroring, fetching, resolving refs, reading trees."""

from __future__ import annotations

import base64
import http.server
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pygit2
import pytest

from reconciler import errors
from reconciler.source import git, settings, tree
from tests import gitrepo


def _remote(origin: Path, tmp_path: Path) -> git.GitSource:
    return git.GitSource.open(source_config(origin, tmp_path))


def _paths(source_tree: tree.DirectoryTree | git.CommitTree) -> list[str]:
    return [entry.path for entry in source_tree.entries()]


def test_clone_over_file_url_mirrors_into_a_bare_cache(origin: Path, tmp_path: Path) -> None:
    source = _remote(origin, tmp_path)
    revision = source.resolve("main")

    assert revision.sha == gitrepo.git(origin, "rev-parse", "main")
    commit_tree = source.tree(revision)
    assert _paths(commit_tree) == [
        "deploy/app.yaml",
        "deploy/db.yaml",
        "docs/readme.md",
        "reconciler.yaml",
    ]
    entry = next(commit_tree.entries())
    assert commit_tree.read(entry) == b"kind: App\n"
    assert entry.size == len(b"kind: App\n")
    (mirror,) = (tmp_path / "cache").iterdir()
    assert mirror == git.cache_path(source_config(origin, tmp_path))
    assert pygit2.Repository(str(mirror)).is_bare
    assert origin.as_uri() not in (mirror / "config").read_text()


def source_config(origin: Path, tmp_path: Path) -> settings.SourceSettings:
    return settings.SourceSettings(url=origin.as_uri(), cache_dir=tmp_path / "cache")


def test_fetch_picks_up_a_new_commit_and_prunes_deleted_branches(
    origin: Path, tmp_path: Path
) -> None:
    gitrepo.git(origin, "branch", "feature")
    source = _remote(origin, tmp_path)
    first = source.resolve("main").sha
    second = gitrepo.commit(origin, {"deploy/app.yaml": "kind: App\nv: 2\n"})
    gitrepo.git(origin, "branch", "-D", "feature")

    assert source.resolve("main").sha == first
    source.fetch()
    assert source.resolve("main").sha == second
    assert git.GitSource.open(source_config(origin, tmp_path)).resolve("main").sha == second
    with pytest.raises(errors.RevisionNotFound):
        source.resolve("feature")


@pytest.mark.parametrize(
    ("ref", "full_ref"),
    [
        ("main", "refs/heads/main"),
        ("v1", "refs/tags/v1"),
        ("v1.1", "refs/tags/v1.1"),
        ("refs/heads/main", "refs/heads/main"),
    ],
)
def test_resolve_branches_and_tags(origin: Path, tmp_path: Path, ref: str, full_ref: str) -> None:
    revision = _remote(origin, tmp_path).resolve(ref)

    assert revision.sha == gitrepo.git(origin, "rev-parse", "main")
    assert revision.ref == full_ref
    assert revision.author == gitrepo.AUTHOR
    assert revision.committed_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert revision.message == "first\n"
    assert revision.signature_verified is None


@pytest.mark.parametrize("length", [7, 12, 40])
def test_resolve_commit_sha_full_or_short(origin: Path, length: int) -> None:
    first = gitrepo.git(origin, "rev-parse", "HEAD")
    gitrepo.commit(origin, {"x": "y"})
    source = git.GitSource.open(settings.SourceSettings(path=origin))

    revision = source.resolve(first[:length])

    assert (revision.sha, revision.ref) == (first, first[:length])


def test_nonexistent_ref_names_the_branches_and_tags(origin: Path, tmp_path: Path) -> None:
    with pytest.raises(errors.RevisionNotFound) as raised:
        _remote(origin, tmp_path).resolve("nope")

    assert str(raised.value) == (
        f'revision "nope" not found in {origin.as_uri()} (branches: main; tags: v1, v1.1)'
    )


def test_nonexistent_ref_lists_at_most_five_names_of_each_kind(origin: Path) -> None:
    for name in ("a", "b", "c", "d", "e", "f", "g"):
        gitrepo.git(origin, "branch", name)
    source = git.GitSource.open(settings.SourceSettings(path=origin))

    with pytest.raises(errors.RevisionNotFound) as raised:
        source.resolve("abcd")

    assert str(raised.value) == (
        f'revision "abcd" not found in {origin} '
        "(branches: a, b, c, d, e and 3 more; tags: v1, v1.1)"
    )


def test_local_path_that_is_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(errors.SourceError) as raised:
        git.GitSource.open(settings.SourceSettings(path=tmp_path))

    assert str(raised.value) == f"cannot open {tmp_path}: Repository not found at {tmp_path}"


def test_unreachable_file_url(tmp_path: Path) -> None:
    config = settings.SourceSettings(url="file:///nonexistent", cache_dir=tmp_path / "cache")

    with pytest.raises(errors.SourceError) as raised:
        git.GitSource.open(config)

    assert str(raised.value) == (
        "cannot fetch file:///nonexistent: failed to resolve path '/nonexistent': "
        "No such file or directory"
    )
    assert list((tmp_path / "cache").iterdir()) == []


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_https_url_is_one_line_without_credentials(tmp_path: Path) -> None:
    port = _closed_port()
    url = f"https://deploy:s3cret-token@127.0.0.1:{port}/org/repo.git"
    config = settings.SourceSettings(url=url, cache_dir=tmp_path / "cache")

    with pytest.raises(errors.SourceError) as raised:
        git.GitSource.open(config)

    assert str(raised.value) == (
        f"cannot fetch https://***@127.0.0.1:{port}/org/repo.git: "
        "failed to connect to 127.0.0.1: Connection refused"
    )


class _DenyAll(http.server.BaseHTTPRequestHandler):
    """Answers every request with 401 and remembers the Authorization headers it saw."""

    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Authorization", ""))
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def deny_all_server() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Handler", (_DenyAll,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/org/repo.git", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_token_from_file_is_sent_once_and_never_shown(
    tmp_path: Path, deny_all_server: tuple[str, list[str]]
) -> None:
    url, seen = deny_all_server
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n")
    auth = settings.GitAuth(token_file=token_file, username="oauth2")
    config = settings.SourceSettings(url=url, cache_dir=tmp_path / "cache", auth=auth)

    with pytest.raises(errors.SourceError) as raised:
        git.GitSource.open(config)

    assert str(raised.value) == f"cannot fetch {url}: the remote rejected the credentials"
    expected = "Basic " + base64.b64encode(b"oauth2:s3cret-token").decode()
    assert seen.count(expected) == 1


def test_token_env_must_be_set(tmp_path: Path) -> None:
    auth = settings.GitAuth(token_env="RECONCILER_TEST_TOKEN")
    config = settings.SourceSettings(
        url="https://example.invalid/r.git", cache_dir=tmp_path, auth=auth
    )

    with pytest.raises(errors.UsageError) as raised:
        git.GitSource.open(config, environ={})

    assert str(raised.value) == "environment variable RECONCILER_TEST_TOKEN is not set"


def test_redact_url_masks_user_and_token() -> None:
    assert settings.redact_url("https://x-access-token:ghp_abc@github.com/o/r.git") == (
        "https://***@github.com/o/r.git"
    )
    assert settings.redact_url("https://github.com/o/r.git") == "https://github.com/o/r.git"
    assert settings.redact_text("see https://tok@h/x and tok", secrets=("tok",)) == (
        "see https://***@h/x and ***"
    )


def test_subpath_tree_and_its_errors(origin: Path) -> None:
    source = git.GitSource.open(settings.SourceSettings(path=origin, subpath="deploy/"))
    revision = source.resolve("main")

    assert _paths(source.tree(revision)) == ["app.yaml", "db.yaml"]
    assert _paths(source.tree(revision, subpath="docs")) == ["readme.md"]
    messages = []
    for subpath in ("nope", "../x", "reconciler.yaml"):
        with pytest.raises(tree.SubpathError) as raised:
            source.tree(revision, subpath=subpath)
        messages.append(str(raised.value))
    assert messages == [
        f'sub-path "nope" does not exist in commit {revision.short}',
        'sub-path "../x" escapes the repository',
        f'sub-path "reconciler.yaml" is not a folder in commit {revision.short}',
    ]


def test_changed_paths_with_renames_and_subpath(origin: Path) -> None:
    old = gitrepo.git(origin, "rev-parse", "HEAD")
    gitrepo.git(origin, "mv", "docs/readme.md", "docs/README.md")
    new = gitrepo.commit(
        origin,
        {"deploy/app.yaml": "kind: App\nv: 2\n", "new.yaml": "a: 1\n"},
        delete=["deploy/db.yaml"],
    )
    source = git.GitSource.open(settings.SourceSettings(path=origin))

    assert source.changed_paths(old, new) == [
        "deploy/app.yaml",
        "deploy/db.yaml",
        "docs/README.md",
        "docs/readme.md",
        "new.yaml",
    ]
    assert source.changed_paths(old, new, subpath="deploy") == ["app.yaml", "db.yaml"]
    assert source.changed_paths(None, old, subpath="docs") == ["readme.md"]
    assert source.changed_paths(old, old) == []


def test_changed_paths_when_the_subpath_appears_or_goes(origin: Path) -> None:
    old = gitrepo.git(origin, "rev-parse", "HEAD")
    new = gitrepo.commit(origin, {"extra/a.yaml": "a: 1\n"}, delete=["docs"])
    source = git.GitSource.open(settings.SourceSettings(path=origin))

    assert source.changed_paths(old, new, subpath="extra") == ["a.yaml"]
    assert source.changed_paths(old, new, subpath="docs") == ["readme.md"]
    assert source.changed_paths(old, new, subpath="nowhere") == []


LINKED: dict[str, gitrepo.FileContent] = {
    "deploy/app.yaml": "kind: App\n",
    "deploy/up.yaml": gitrepo.Symlink("../settings.yaml"),
    "deploy/chain.yaml": gitrepo.Symlink("up.yaml"),
    "settings.yaml": "kind: Settings\n",
    "current.yaml": gitrepo.Symlink("deploy/app.yaml"),
    "via-dir/x.yaml": gitrepo.Symlink("../linkdir/app.yaml"),
    "linkdir": gitrepo.Symlink("deploy"),
    "evil.yaml": gitrepo.Symlink("../../etc/passwd"),
    "absolute.yaml": gitrepo.Symlink("/etc/passwd"),
    "dangling.yaml": gitrepo.Symlink("missing.yaml"),
    "loop-a": gitrepo.Symlink("loop-b"),
    "loop-b": gitrepo.Symlink("loop-a"),
}


def test_symlinks_inside_are_followed_and_escaping_ones_reported(tmp_path: Path) -> None:
    gitrepo.make_repo(tmp_path / "repo", LINKED)
    source = git.GitSource.open(settings.SourceSettings(path=tmp_path / "repo"))
    commit_tree = source.tree(source.resolve("main"))
    entries = {entry.path: entry for entry in commit_tree.entries()}

    assert sorted(entries) == [
        "current.yaml",
        "deploy/app.yaml",
        "deploy/chain.yaml",
        "deploy/up.yaml",
        "settings.yaml",
        "via-dir/x.yaml",
    ]
    assert entries["current.yaml"].blob_id == entries["deploy/app.yaml"].blob_id
    assert commit_tree.read(entries["deploy/chain.yaml"]) == b"kind: Settings\n"
    assert commit_tree.read(entries["via-dir/x.yaml"]) == b"kind: App\n"
    assert [str(problem) for problem in commit_tree.problems()] == [
        "absolute.yaml: symlink escapes the repository (-> /etc/passwd)",
        "dangling.yaml: symlink target does not exist (-> missing.yaml)",
        "evil.yaml: symlink escapes the repository (-> ../../etc/passwd)",
        "linkdir: symlink to a folder is not followed (-> deploy)",
        "loop-a: symlink loop (-> loop-b)",
        "loop-b: symlink loop (-> loop-a)",
    ]
    assert commit_tree.problems()[2] == errors.Problem(
        path="evil.yaml", message="symlink escapes the repository (-> ../../etc/passwd)"
    )


def test_symlink_escaping_the_subpath_is_reported(tmp_path: Path) -> None:
    gitrepo.make_repo(tmp_path / "repo", LINKED)
    source = git.GitSource.open(settings.SourceSettings(path=tmp_path / "repo", subpath="deploy"))
    commit_tree = source.tree(source.resolve("main"))

    assert _paths(commit_tree) == ["app.yaml"]
    assert [str(problem) for problem in commit_tree.problems()] == [
        "chain.yaml: symlink escapes the repository (-> up.yaml)",
        "up.yaml: symlink escapes the repository (-> ../settings.yaml)",
    ]


def test_directory_tree_matches_the_commit_tree(tmp_path: Path) -> None:
    files = {**LINKED, "bin/run.sh": "#!/bin/sh\n", "data.bin": bytes(range(256)), "empty": ""}
    gitrepo.make_repo(tmp_path / "repo", files)
    (tmp_path / "repo" / "nested").mkdir()
    (tmp_path / "repo" / "nested" / ".git").write_text("gitdir: elsewhere\n")
    source = git.GitSource.open(settings.SourceSettings(path=tmp_path / "repo"))
    commit_tree = source.tree(source.resolve("main"))
    directory = tree.DirectoryTree(tmp_path / "repo")

    assert list(directory.entries()) == list(commit_tree.entries())
    assert directory.problems() == commit_tree.problems()
    assert directory.revision is None
    for entry in directory.entries():
        assert entry.blob_id == str(pygit2.hash(directory.read(entry)))
        assert directory.read(entry) == commit_tree.read(entry)


def test_ssh_credentials_come_from_the_key_file(tmp_path: Path) -> None:
    # No SSH server runs here, so the callback libgit2 would call is exercised directly.
    auth = settings.GitAuth(ssh_key_file=tmp_path / "id_ed25519")
    callbacks = git._Callbacks(auth=auth, token=None, passphrase="")
    ssh = pygit2.enums.CredentialType

    asked_name = callbacks.credentials("ssh://host/r.git", None, ssh.USERNAME)
    keypair = callbacks.credentials(
        "ssh://host/r.git", "deploy", ssh.SSH_KEY | ssh.USERPASS_PLAINTEXT
    )

    assert asked_name.credential_tuple == ("git",)
    assert keypair.credential_tuple == (
        "deploy",
        f"{tmp_path / 'id_ed25519'}.pub",
        str(tmp_path / "id_ed25519"),
        "",
    )
    with pytest.raises(errors.SourceError) as raised:
        callbacks.credentials("ssh://host/r.git", "deploy", ssh.SSH_KEY)
    assert str(raised.value) == "the remote rejected the credentials"


def test_merged_by_finds_the_commit_that_brought_a_branch_onto_another(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    base = gitrepo.make_repo(repo, {"a.txt": "1\n"})
    gitrepo.git(repo, "checkout", "--quiet", "-b", "topic")
    topic = gitrepo.commit(repo, {"a.txt": "2\n"}, message="topic")
    gitrepo.git(repo, "checkout", "--quiet", "main")
    assert git.merged_by(repo, branch="main", commit=topic) is None
    gitrepo.commit(repo, {"b.txt": "x\n"}, message="meanwhile")
    gitrepo.git(repo, "merge", "--no-ff", "-m", "merge topic", "topic")
    merge = gitrepo.git(repo, "rev-parse", "HEAD")
    later = gitrepo.commit(repo, {"c.txt": "y\n"}, message="later")

    found = git.merged_by(repo, branch="main", commit=topic)
    assert found is not None and found.sha == merge and found.ref == "refs/heads/main"
    assert git.merged_by(repo, branch="main", commit=later).sha == later  # type: ignore[union-attr]
    assert git.merged_by(repo, branch="main", commit=base).sha == base  # type: ignore[union-attr]
    assert git.merged_by(repo, branch="gone", commit=topic) is None
    assert git.merged_by(repo, branch="main", commit="0" * 40) is None
    assert git.has_branch(repo, "topic") and not git.has_branch(repo, "gone")


def test_first_parents_walk_back_to_the_base_with_a_file(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    base = gitrepo.make_repo(repo, {"a.txt": "1\n"})
    second = gitrepo.commit(repo, {"a.txt": "2\n"}, message="two")
    third = gitrepo.commit(repo, {"b.txt": "x\n"}, delete=["a.txt"], message="three")

    found = git.first_parents(repo, branch="main", since=base, name="a.txt")
    assert [(r.sha, data) for r, data in found] == [(third, None), (second, b"2\n")]
    assert git.first_parents(repo, branch="main", since=third, name="a.txt") == []
    assert len(git.first_parents(repo, branch="main", since=base, name="a.txt", limit=1)) == 1
    assert git.first_parents(repo, branch="gone", since=base, name="a.txt") == []


def test_tree_changes_name_each_changed_file_with_its_new_entry(origin: Path) -> None:
    source = git.GitSource.open(settings.SourceSettings(path=origin))
    old = source.resolve("main")
    gitrepo.commit(
        origin,
        {"deploy/app.yaml": "kind: App2\n", "run.sh": gitrepo.Executable("echo\n")},
        delete=["deploy/db.yaml"],
    )
    new = source.resolve("main")
    listed = {e.path: e for e in source.tree(new).entries()}

    changes = source.tree_changes(old, new)

    assert changes == {
        "deploy/app.yaml": listed["deploy/app.yaml"],
        "deploy/db.yaml": None,
        "run.sh": listed["run.sh"],
    }
    assert listed["run.sh"].executable and listed["run.sh"].size == 5
    assert source.tree_changes(new, new) == {}
    scoped = git.GitSource.open(settings.SourceSettings(path=origin, subpath="deploy"))
    assert sorted(scoped.tree_changes(old, new) or {}) == ["app.yaml", "db.yaml"]


def test_tree_changes_refuse_a_symlink_or_a_missing_subpath(origin: Path) -> None:
    """A link's file is its target's: the diff does not name every path a change reaches."""
    source = git.GitSource.open(settings.SourceSettings(path=origin))
    old = source.resolve("main")
    gitrepo.commit(origin, {"deploy/link.yaml": gitrepo.Symlink("app.yaml")})
    linked = source.resolve("main")
    gitrepo.commit(origin, {"other/x.yaml": "x\n"}, delete=["deploy/app.yaml"])
    moved = source.resolve("main")

    assert source.tree_changes(old, linked) is None
    assert source.tree_changes(linked, moved) is not None  # the link itself did not change
    assert source.tree(linked).has_links and not source.tree(old).has_links
    scoped = git.GitSource.open(settings.SourceSettings(path=origin, subpath="other"))
    assert scoped.tree_changes(old, moved) is None  # no "other/" in the old commit


def test_one_entry_is_read_without_listing_the_tree(origin: Path) -> None:
    gitrepo.commit(origin, {"link.yaml": gitrepo.Symlink("reconciler.yaml")})
    source = git.GitSource.open(settings.SourceSettings(path=origin))
    commit_tree = source.tree(source.resolve("main"))
    listed = {e.path: e for e in commit_tree.entries()}

    assert commit_tree.entry("reconciler.yaml") == listed["reconciler.yaml"]
    assert commit_tree.entry("link.yaml") == listed["link.yaml"]
    assert [commit_tree.entry(p) for p in ("deploy", "nope.yaml")] == [None, None]
