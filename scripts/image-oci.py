#!/usr/bin/env python3
"""Helpers of scripts/image (standard library only).

  image-oci.py ca-bundle DEB_ROOT OUT
      The CA bundle as Debian's update-ca-certificates writes it
      (/etc/ssl/certs/ca-certificates.crt), from the files of the
      ca-certificates package extracted at DEB_ROOT: every
      usr/share/ca-certificates/*/*.crt, sorted, concatenated.

  image-oci.py layout OUT --version V --revision R --epoch S --description D
                      --license L --source URL
                      --platform ARCH:BINARY ... --ca-bundle F --passwd F --group F
      Writes an OCI image layout at OUT: one single-layer image per
      platform (the rootfs: /podmedic, the CA bundle, /etc/passwd,
      /etc/group, /tmp) and an image index of them, tagged V in
      OUT/index.json (each platform's manifest is also tagged V-linux-ARCH).
      Reproducible by construction: entries sorted, owner 0:0, mtimes and
      `created` from --epoch (SOURCE_DATE_EPOCH), ustar headers without
      extended attributes, gzip without name or time, JSON with sorted keys.
      Prints the digests (one line each).
"""

import argparse
import datetime
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"

UID = 65532
PORT = "8080/tcp"
CA_PATH = "etc/ssl/certs/ca-certificates.crt"


def ca_bundle(deb_root, out):
    base = os.path.join(deb_root, "usr/share/ca-certificates")
    files = sorted(
        os.path.relpath(os.path.join(d, f), base)
        for d, _, fs in os.walk(base)
        for f in fs
        if f.endswith(".crt")
    )
    if not files:
        sys.exit(f"image-oci.py: no certificates under {base}")
    with open(out, "wb") as o:
        for rel in files:
            with open(os.path.join(base, rel), "rb") as f:
                pem = f.read()
            o.write(pem if pem.endswith(b"\n") else pem + b"\n")
    print(f"{len(files)} certificates from {base}")


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


class Layout:
    def __init__(self, root):
        self.root = root
        os.makedirs(os.path.join(root, "blobs", "sha256"))

    def blob(self, data, media_type, **extra):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        with open(os.path.join(self.root, "blobs", "sha256", digest[7:]), "wb") as f:
            f.write(data)
        return dict(mediaType=media_type, digest=digest, size=len(data), **extra)


def layer(entries, epoch):
    """(uncompressed tar, gzip of it) of entries: (path, mode, bytes or None for a directory)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path, mode, data in sorted(entries, key=lambda e: e[0]):
            info = tarfile.TarInfo(path + "/" if data is None else path)
            info.mode = mode
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = epoch
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    gz = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=gz, compresslevel=9, mtime=0) as z:
        z.write(tar_bytes)
    return tar_bytes, gz.getvalue()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def build_layout(a):
    created = datetime.datetime.fromtimestamp(a.epoch, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    labels = {
        "org.opencontainers.image.title": "podmedic",
        "org.opencontainers.image.description": a.description,
        "org.opencontainers.image.version": a.version,
        "org.opencontainers.image.revision": a.revision,
        "org.opencontainers.image.created": created,
        "org.opencontainers.image.licenses": a.license,
        "org.opencontainers.image.source": a.source,
        "org.opencontainers.image.url": a.source,
    }
    common = [
        ("etc", 0o755, None),
        ("etc/ssl", 0o755, None),
        ("etc/ssl/certs", 0o755, None),
        (CA_PATH, 0o644, read(a.ca_bundle)),
        ("etc/passwd", 0o644, read(a.passwd)),
        ("etc/group", 0o644, read(a.group)),
        ("tmp", 0o1777, None),
    ]
    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    out = Layout(a.out)
    manifests = []
    for spec in a.platform:
        arch, binary = spec.split(":", 1)
        platform = {"architecture": arch, "os": "linux"}
        if arch == "arm64":
            platform["variant"] = "v8"
        tar_bytes, gz = layer(common + [("podmedic", 0o755, read(binary))], a.epoch)
        layer_desc = out.blob(gz, MEDIA_LAYER)
        config = dict(
            platform,
            created=created,
            config={
                "User": f"{UID}:{UID}",
                "Entrypoint": ["/podmedic"],
                "Cmd": ["run"],
                "WorkingDir": "/",
                "ExposedPorts": {PORT: {}},
                "Labels": labels,
            },
            rootfs={"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar_bytes).hexdigest()]},
            history=[{"created": created, "created_by": "scripts/image build"}],
        )
        config_desc = out.blob(canonical(config), MEDIA_CONFIG)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": config_desc,
            "layers": [layer_desc],
            "annotations": {"org.opencontainers.image.created": created},
        }
        desc = out.blob(canonical(manifest), MEDIA_MANIFEST, platform=platform)
        manifests.append(desc)
        print(f"{desc['digest']} linux/{arch} manifest (layer {layer_desc['digest']}, {layer_desc['size']} bytes gzipped)")
    index = {
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": manifests,
        "annotations": {
            "org.opencontainers.image.created": created,
            "org.opencontainers.image.version": a.version,
            "org.opencontainers.image.revision": a.revision,
        },
    }
    index_desc = out.blob(canonical(index), MEDIA_INDEX)
    refs = [dict(index_desc, annotations={REF_NAME: a.version})]
    for m in manifests:
        refs.append(dict(m, annotations={REF_NAME: f"{a.version}-linux-{m['platform']['architecture']}"}))
    with open(os.path.join(a.out, "index.json"), "wb") as f:
        f.write(canonical({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": refs}))
    with open(os.path.join(a.out, "oci-layout"), "wb") as f:
        f.write(canonical({"imageLayoutVersion": "1.0.0"}))
    print(f"{index_desc['digest']} index podmedic:{a.version}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("ca-bundle")
    c.add_argument("deb_root")
    c.add_argument("out")
    lay = sub.add_parser("layout")
    lay.add_argument("out")
    for name in ("version", "revision", "description", "license", "source", "ca-bundle", "passwd", "group"):
        lay.add_argument("--" + name, required=True)
    lay.add_argument("--epoch", type=int, required=True)
    lay.add_argument("--platform", action="append", required=True, help="ARCH:BINARY (amd64, arm64)")
    a = p.parse_args()
    if a.cmd == "ca-bundle":
        ca_bundle(a.deb_root, a.out)
    else:
        build_layout(a)


if __name__ == "__main__":
    main()
