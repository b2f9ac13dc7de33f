"""A small Hugging Face Hub-compatible HTTP server on 127.0.0.1, for tests without internet.

It answers the endpoints that the real ``huggingface_hub`` client calls to create a repo, commit
files (``create_commit``, ``upload_folder``), and download them (``hf_hub_download``,
``snapshot_download``), with the Hub's response shapes and error headers:

- ``POST /api/repos/create``; ``POST /api/validate-yaml`` (README front matter must be YAML);
- ``GET /api/models/{repo}[/revision/{rev}]`` (model info: ``sha``, ``siblings``);
- ``GET /api/models/{repo}/tree/{rev}[/{path}]`` (tree listing);
- ``POST /api/models/{repo}/preupload/{rev}`` (every file ``regular``: sent inline, no LFS/Xet);
- ``POST /api/models/{repo}/commit/{rev}`` (ndjson commit); ``POST /api/models/{repo}/branch/{b}``;
- ``HEAD``/``GET /{repo}/resolve/{rev}/{path}`` with ``X-Repo-Commit``, ``ETag`` (the git blob
  id) and ``Content-Length``, and ``Range`` requests.

Errors carry ``X-Error-Code`` (``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``) as the
Hub sends them, so the client raises its own typed errors. Repositories live in memory; a repo
created ``private`` answers only requests bearing the server's token. The server listens on the
loopback interface only, caps request bodies, and shuts itself down after ``lifetime`` seconds
even if a test forgets to.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

MAX_BODY_BYTES = 64 * 2**20
COMMIT_HASH = re.compile(r"^[0-9a-f]{40}$")
REPO = r"(?P<repo>[\w.-]+/[\w.-]+)"
ROUTES = [
    ("POST", re.compile(r"^/api/repos/create$"), "create_repo"),
    ("POST", re.compile(r"^/api/validate-yaml$"), "validate_yaml"),
    ("GET", re.compile(rf"^/api/models/{REPO}(?:/revision/(?P<rev>[^/]+))?$"), "model_info"),
    ("GET", re.compile(rf"^/api/models/{REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.+))?$"), "tree"),
    ("POST", re.compile(rf"^/api/models/{REPO}/preupload/(?P<rev>[^/]+)$"), "preupload"),
    ("POST", re.compile(rf"^/api/models/{REPO}/commit/(?P<rev>[^/]+)$"), "commit"),
    ("POST", re.compile(rf"^/api/models/{REPO}/branch/(?P<branch>[^/]+)$"), "create_branch"),
    ("GET", re.compile(rf"^/{REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$"), "resolve"),
    ("HEAD", re.compile(rf"^/{REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$"), "resolve"),
]


def git_blob_id(content: bytes) -> str:
    """The git object id of a file, which the Hub uses as the ETag of non-LFS files."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, commit: str | None = None, **body):
        super().__init__(message)
        self.status, self.code, self.commit, self.body = status, code, commit, body


@dataclass
class Commit:
    files: dict[str, bytes]
    message: str
    parent: str | None
    # The Hub's timestamp format, which the client parses strictly.
    date: str = field(default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")


@dataclass
class Repository:
    private: bool
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)

    def resolve(self, revision: str) -> str:
        revision = unquote(revision)
        if revision in self.branches:
            return self.branches[revision]
        if COMMIT_HASH.match(revision) and revision in self.commits:
            return revision
        raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")

    def add_commit(self, branch: str, files: dict[str, bytes], message: str) -> str:
        parent = self.branches.get(branch)
        digest = hashlib.sha1(json.dumps([parent, message, len(self.commits)]).encode())
        for path in sorted(files):
            digest.update(path.encode() + git_blob_id(files[path]).encode())
        sha = digest.hexdigest()
        self.commits[sha] = Commit(files, message, parent)
        self.branches[branch] = sha
        return sha


class LocalHub(ThreadingHTTPServer):
    """The server and its in-memory repositories; ``url`` is the value for ``HF_ENDPOINT``."""

    daemon_threads = True

    def __init__(self, token: str | None = None, lifetime: float = 120.0) -> None:
        super().__init__(("127.0.0.1", 0), HubRequestHandler)
        self.token = token
        self.repos: dict[str, Repository] = {}
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._deadline = threading.Timer(lifetime, self.shutdown)
        self._deadline.daemon = True

    def __enter__(self) -> LocalHub:
        self._thread.start()
        self._deadline.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._deadline.cancel()
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)

    def commits(self, repo_id: str, branch: str = "main") -> list[Commit]:
        """The history of ``branch``, newest first."""
        repo = self.repos[repo_id]
        history, sha = [], repo.branches.get(branch)
        while sha is not None:
            history.append(repo.commits[sha])
            sha = repo.commits[sha].parent
        return history


class HubRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LocalHub
    timeout = 30

    def log_message(self, format, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    # -- plumbing ---------------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        self.query = parse_qs(url.query)
        self.server.requests.append((method, url.path))
        try:
            body = self._read_body()
            for route_method, pattern, handler in ROUTES:
                match = pattern.match(url.path)
                if route_method == method and match:
                    with self.server.lock:
                        getattr(self, handler)(body=body, head=method == "HEAD", **match.groupdict())
                    return
            raise HubError(404, f"no route for {method} {url.path}")
        except HubError as error:
            headers = {"X-Error-Message": str(error)}
            if error.code:
                headers["X-Error-Code"] = error.code
            if error.commit:
                headers["X-Repo-Commit"] = error.commit
            payload = json.dumps({"error": str(error), **error.body}).encode()
            self._send(error.status, payload, headers, head=method == "HEAD")

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise HubError(413, f"request body of {length} bytes exceeds {MAX_BODY_BYTES}")
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None, head: bool = False) -> None:
        self.send_response(status)
        headers = {"Content-Type": "application/json", **(headers or {})}
        headers.setdefault("Content-Length", str(len(payload)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if not head:
            self.wfile.write(payload)

    def _json(self, value, status: int = 200) -> None:
        self._send(status, json.dumps(value).encode())

    def _authorised(self) -> bool:
        return self.server.token is None or self.headers.get("Authorization") == f"Bearer {self.server.token}"

    def _repo(self, repo_id: str, write: bool = False) -> Repository:
        repo = self.server.repos.get(repo_id)
        if repo is None or ((repo.private or write) and not self._authorised()):
            # The Hub answers an unauthorised request for a private repo as if it did not exist.
            raise HubError(404 if self._authorised() else 401, f"Repository {repo_id} not found", "RepoNotFound")
        return repo

    # -- endpoints --------------------------------------------------------------------------------

    def create_repo(self, body: bytes, **_) -> None:
        if not self._authorised():
            raise HubError(401, "Invalid credentials in Authorization header")
        request = json.loads(body)
        if request.get("type", "model") != "model":
            raise HubError(400, "this test server hosts model repositories only")
        if not request.get("organization"):
            raise HubError(400, "give the repo id as 'org/name'")
        repo_id = f"{request['organization']}/{request['name']}"
        if repo_id in self.server.repos:
            # The Hub's conflict answer still carries the url, which `create_repo(exist_ok=True)` reads.
            raise HubError(409, "You already created this model repo", url=f"{self.server.url}/{repo_id}")
        repo = Repository(private=request.get("visibility", "public") == "private")
        repo.add_commit("main", {".gitattributes": b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"}, "initial commit")
        self.server.repos[repo_id] = repo
        self._json({"url": f"{self.server.url}/{repo_id}", "name": repo_id, "id": repo_id})

    def validate_yaml(self, body: bytes, **_) -> None:
        content = json.loads(body)["content"]
        match = re.match(r"^---\n(.*?)\n---\n", content, re.DOTALL)
        try:
            metadata = yaml.safe_load(match.group(1)) if match else {}
        except yaml.YAMLError as error:
            self._json({"errors": [{"message": f"invalid YAML: {error}"}]}, status=400)
            return
        if not isinstance(metadata, dict):
            self._json({"errors": [{"message": "metadata must be a YAML mapping"}]}, status=400)
            return
        self._json({"warnings": [] if metadata else [{"message": "empty or missing yaml metadata"}]})

    def model_info(self, repo: str, rev: str | None = None, **_) -> None:
        repository = self._repo(repo)
        sha = repository.resolve(rev or "main")
        files = repository.commits[sha].files
        self._json(
            {
                "id": repo,
                "sha": sha,
                "private": repository.private,
                "lastModified": repository.commits[sha].date,
                "siblings": [{"rfilename": path} for path in sorted(files)],
            }
        )

    def tree(self, repo: str, rev: str, path: str | None = None, **_) -> None:
        repository = self._repo(repo)
        files = repository.commits[repository.resolve(rev)].files
        prefix = f"{unquote(path)}/" if path else ""
        recursive = self.query.get("recursive", ["False"])[0].lower() in ("1", "true")
        entries, folders = [], set()
        for name in sorted(files):
            if not name.startswith(prefix):
                continue
            parts = name[len(prefix) :].split("/")
            for depth in range(1, len(parts)):
                folders.add(prefix + "/".join(parts[:depth]))
            if recursive or len(parts) == 1:
                entries.append({"type": "file", "path": name, "size": len(files[name]), "oid": git_blob_id(files[name])})
        for folder in sorted(folders):
            if recursive or "/" not in folder[len(prefix) :]:
                entries.append({"type": "directory", "path": folder, "oid": hashlib.sha1(folder.encode()).hexdigest()})
        self._json(entries)

    def preupload(self, repo: str, rev: str, body: bytes, **_) -> None:
        repository = self._repo(repo, write=True)
        files = repository.commits[repository.resolve(rev)].files
        answer = []
        for item in json.loads(body)["files"]:
            existing = files.get(item["path"])
            answer.append(
                {
                    "path": item["path"],
                    "uploadMode": "regular",
                    "shouldIgnore": False,
                    "oid": git_blob_id(existing) if existing is not None else None,
                }
            )
        self._json({"files": answer})

    def commit(self, repo: str, rev: str, body: bytes, **_) -> None:
        repository = self._repo(repo, write=True)
        if self.query.get("create_pr"):
            raise HubError(400, "this test server does not open pull requests")
        branch = unquote(rev)
        if branch not in repository.branches:
            raise HubError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
        lines = [json.loads(line) for line in body.splitlines() if line.strip()]
        header = lines[0]["value"]
        head = repository.branches[branch]
        if header.get("parentCommit") not in (None, head):
            raise HubError(412, f"parent commit {header['parentCommit']} is not the head of {branch}")
        files = dict(repository.commits[head].files)
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            if key == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                files.pop(value["path"], None)
            elif key == "deletedFolder":
                files = {p: c for p, c in files.items() if not p.startswith(value["path"].rstrip("/") + "/")}
            else:
                raise HubError(400, f"commit operation {key!r} is not supported by this test server")
        sha = repository.add_commit(branch, files, header["summary"])
        self._json({"success": True, "commitOid": sha, "commitUrl": f"{self.server.url}/{repo}/commit/{sha}", "pullRequestUrl": None})

    def create_branch(self, repo: str, branch: str, body: bytes, **_) -> None:
        repository = self._repo(repo, write=True)
        branch = unquote(branch)
        if branch in repository.branches:
            raise HubError(409, f"Reference already exists: refs/heads/{branch}")
        start = json.loads(body).get("startingPoint") if body else None
        repository.branches[branch] = repository.resolve(start or "main")
        self._json({})

    def resolve(self, repo: str, rev: str, path: str, head: bool, **_) -> None:
        repository = self._repo(repo)
        sha = repository.resolve(rev)
        path = unquote(path)
        content = repository.commits[sha].files.get(path)
        if content is None:
            raise HubError(404, f"Entry not found: {path}", "EntryNotFound", commit=sha)
        headers = {
            "Content-Type": "application/octet-stream",
            "X-Repo-Commit": sha,
            "ETag": f'"{git_blob_id(content)}"',
            "Accept-Ranges": "bytes",
        }
        status, payload = 200, content
        ranged = re.match(r"^bytes=(\d+)-(\d*)$", self.headers.get("Range", ""))
        if ranged and not head:
            start = int(ranged.group(1))
            end = int(ranged.group(2)) if ranged.group(2) else len(content) - 1
            status, payload = 206, content[start : end + 1]
            headers["Content-Range"] = f"bytes {start}-{end}/{len(content)}"
        headers["Content-Length"] = str(len(payload))
        self._send(status, payload, headers, head=head)


def point_client_at(hub: LocalHub, monkeypatch, cache_dir) -> None:
    """Send the real ``huggingface_hub`` client to ``hub``, with its cache in ``cache_dir``.

    ``huggingface_hub`` reads ``HF_ENDPOINT``, ``HF_HUB_OFFLINE`` and ``HF_HUB_CACHE`` once, into
    ``huggingface_hub.constants``, when it is imported; in a running process the library's own
    tests set those constants, as here. (A fresh process honours the environment variables: see
    the subprocess test in test_hub_remote.py.)
    """
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache_dir))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
