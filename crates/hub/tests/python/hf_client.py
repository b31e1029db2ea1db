"""Drives the OFFICIAL huggingface_hub client against the hub emulator (HF_ENDPOINT).

Usage:
  hf_client.py snapshot REPO_ID [--offline]   -> JSON {path, files: {rel: sha256}, card_data}
  hf_client.py upload REPO_ID FOLDER [--private] -> JSON {commit_oid}
  hf_client.py whoami                         -> JSON {name}
  hf_client.py files REPO_ID                  -> JSON [paths]

Errors print JSON {"error": <class name>, "message": ...} and exit 3.
"""
import hashlib
import json
import os
import sys


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    import huggingface_hub as hf

    cmd = sys.argv[1]
    api = hf.HfApi()
    if cmd == "snapshot":
        repo = sys.argv[2]
        offline = "--offline" in sys.argv
        path = hf.snapshot_download(repo_id=repo, local_files_only=offline)
        files = {}
        for root, _, names in os.walk(path):
            for n in names:
                full = os.path.join(root, n)
                files[os.path.relpath(full, path).replace(os.sep, "/")] = sha256_of(full)
        card_data = None
        readme = os.path.join(path, "README.md")
        if os.path.exists(readme):
            from huggingface_hub.repocard import metadata_load

            card_data = metadata_load(readme)
            # the official model-index parser must accept our card
            card = hf.ModelCard.load(readme)
            card_data["_eval_results"] = [
                [r.task_type, r.dataset_type, r.dataset_name, r.metric_type, r.metric_value]
                for r in (card.data.eval_results or [])
            ]
        out = {"path": path, "files": files, "card_data": card_data, "version": hf.__version__}
    elif cmd == "upload":
        repo, folder = sys.argv[2], sys.argv[3]
        api.create_repo(repo, exist_ok=True, private="--private" in sys.argv)
        info = api.upload_folder(repo_id=repo, folder_path=folder, commit_message="official client upload")
        out = {"commit_oid": info.oid}
    elif cmd == "whoami":
        out = {"name": api.whoami()["name"]}
    elif cmd == "files":
        out = sorted(api.list_repo_files(sys.argv[2]))
    else:
        raise SystemExit(f"unknown command {cmd}")
    print(json.dumps(out))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # report the exception class for the Rust test to check
        print(json.dumps({"error": type(e).__name__, "message": str(e)}))
        sys.exit(3)
