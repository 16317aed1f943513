"""S3 blob store: a private bucket, server-side encryption on every object, SigV4 presigned URLs."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from imagerepo.domain.errors import BlobMissing, ServiceUnavailable

if TYPE_CHECKING:
    from imagerepo.ports.clock import Clock

log = logging.getLogger(__name__)

MiB = 1024 * 1024
_MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4's limit
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
_NOT_IMPLEMENTED = {"NotImplemented", "501"}
_PUBLIC_GROUPS = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)


def make_s3_client(
    endpoint_url: str | None,
    region: str,
    *,
    access_key: str | None = None,
    secret_key: str | None = None,
    addressing_style: str | None = None,
    connect_timeout: float = 5,
    read_timeout: float = 60,
    max_attempts: int = 4,
) -> Any:
    """A boto3 S3 client that signs requests and presigned URLs with SigV4 for ``region``, which
    must be the bucket's (AWS refuses a URL signed for another region). Addressing defaults to
    virtual-hosted on AWS (``https://BUCKET.s3.REGION.amazonaws.com/KEY``; botocore's "auto" would
    presign on the global endpoint) and path style on an S3-compatible ``endpoint_url``.
    Credentials default to the usual AWS chain (environment, profile, instance role). A call that
    gets no answer fails after at most ``max_attempts`` tries of ``connect_timeout`` +
    ``read_timeout`` seconds."""
    import boto3
    from botocore.config import Config

    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": addressing_style or ("path" if endpoint_url else "virtual")},
        retries={"max_attempts": max_attempts, "mode": "standard"},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=config,
    )


def _code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


def _status(e: ClientError) -> int:
    return int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def content_disposition(filename: str) -> str:
    """``inline`` with an ASCII fallback name and the exact UTF-8 name (RFC 6266 / 5987)."""
    fallback = re.sub(r'[^A-Za-z0-9._ -]', "_", filename)[:150] or "download"
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class S3BlobStore:
    """Blobs in a private bucket. The client is injected (see :func:`make_s3_client`); every put
    asks for server-side encryption, SSE-S3 by default or SSE-KMS with ``sse="aws:kms"``."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        sse: str = "AES256",
        kms_key_id: str | None = None,
        multipart_threshold: int = 8 * MiB,
        clock: Clock | None = None,
    ) -> None:
        if sse not in ("AES256", "aws:kms", "aws:kms:dsse"):
            raise ValueError(f"unknown server-side encryption {sse!r}")
        if kms_key_id and not sse.startswith("aws:kms"):
            raise ValueError("kms_key_id needs sse='aws:kms'")
        self._client = client
        self._bucket = bucket
        self._extra: dict[str, str] = {"ServerSideEncryption": sse}
        if kms_key_id:
            self._extra["SSEKMSKeyId"] = kms_key_id
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=max(multipart_threshold, 5 * MiB),  # S3's smallest part
            max_concurrency=4,
        )
        self._clock = clock

    @property
    def bucket(self) -> str:
        return self._bucket

    def _unavailable(self, action: str, e: Exception) -> ServiceUnavailable:
        detail = _code(e) if isinstance(e, ClientError) else type(e).__name__
        return ServiceUnavailable(f"S3 could not {action} ({detail})")

    def put(self, key: str, data: BinaryIO, content_type: str) -> None:
        extra = dict(self._extra)
        if content_type:
            extra["ContentType"] = content_type
        try:
            # Multipart above the threshold; s3transfer aborts a failed multipart upload, so a
            # failure leaves nothing new under the key.
            self._client.upload_fileobj(data, self._bucket, key, ExtraArgs=extra, Config=self._transfer)
        except (ClientError, BotoCoreError, S3UploadFailedError, OSError) as e:
            raise self._unavailable(f"store {key}", e) from e

    def get(self, key: str) -> bytes:
        try:
            obj = self._client.get_object(Bucket=self._bucket, Key=key)
            return bytes(obj["Body"].read())
        except ClientError as e:
            if _code(e) in _MISSING_CODES:
                raise BlobMissing(f"no blob {key}") from e
            raise self._unavailable(f"read {key}", e) from e
        except (BotoCoreError, OSError) as e:
            raise self._unavailable(f"read {key}", e) from e

    def delete(self, key: str) -> None:
        try:
            self._client.delete_object(Bucket=self._bucket, Key=key)
        except (ClientError, BotoCoreError) as e:
            raise self._unavailable(f"delete {key}", e) from e

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as e:
            if _code(e) in _MISSING_CODES or _status(e) == 404:
                return False
            raise self._unavailable(f"look up {key}", e) from e
        except BotoCoreError as e:
            raise self._unavailable(f"look up {key}", e) from e
        return True

    def url(self, key: str, expires_at: datetime, *, filename: str, content_type: str) -> str:
        now = self._clock.now() if self._clock else datetime.now(UTC)
        # Rounded down: the URL must not outlive expires_at (SigV4 counts whole seconds).
        ttl = min(max(1, math.floor((expires_at - now).total_seconds())), _MAX_PRESIGN_SECONDS)
        params: dict[str, str] = {
            "Bucket": self._bucket,
            "Key": key,
            "ResponseContentDisposition": content_disposition(filename),
        }
        if content_type:
            params["ResponseContentType"] = content_type
        try:
            return str(self._client.generate_presigned_url("get_object", Params=params, ExpiresIn=ttl))
        except (ClientError, BotoCoreError) as e:
            raise self._unavailable(f"sign a URL for {key}", e) from e

    def keys(self) -> Iterator[str]:
        try:
            for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket):
                for item in page.get("Contents", ()):
                    yield str(item["Key"])
        except (ClientError, BotoCoreError) as e:
            raise self._unavailable("list the bucket", e) from e

    def check(self) -> None:
        try:
            self._client.head_bucket(Bucket=self._bucket)
        except (ClientError, BotoCoreError) as e:
            raise self._unavailable(f"reach bucket {self._bucket}", e) from e

    def bucket_region(self, *, on_aws: bool = True) -> str | None:
        """The bucket's region as the server names it: the ``x-amz-bucket-region`` header of
        HeadBucket (AWS sends it also with a redirect, a wrong-region 400 or a 403), else the
        answer of GetBucketLocation, where AWS means us-east-1 by an empty one and eu-west-1 by
        the legacy "EU". None when the server names none: an S3-compatible store (``on_aws``
        false) that leaves the location empty, a refused call, or a missing bucket (which
        :meth:`verify_bucket` then reports)."""
        try:
            headers = self._client.head_bucket(Bucket=self._bucket)["ResponseMetadata"]["HTTPHeaders"]
        except ClientError as e:
            headers = e.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        except BotoCoreError as e:
            raise self._unavailable(f"reach bucket {self._bucket}", e) from e
        if headers.get("x-amz-bucket-region"):
            return str(headers["x-amz-bucket-region"])
        try:
            location = self._client.get_bucket_location(Bucket=self._bucket).get("LocationConstraint")
        except ClientError as e:  # a wrong-region refusal names the right one
            return str(e.response.get("Error", {}).get("Region") or "") or None
        except BotoCoreError as e:
            raise self._unavailable(f"ask bucket {self._bucket} for its region", e) from e
        if location == "EU":
            return "eu-west-1"
        if location:
            return str(location)
        return "us-east-1" if on_aws else None

    def verify_bucket(self) -> list[str]:
        """Run at start-up: raise ServiceUnavailable when the bucket is missing or out of reach;
        log (and return) a warning for each sign that it may be readable by the public. Checks
        the server does not implement (501) are skipped."""
        try:
            self._client.head_bucket(Bucket=self._bucket)
        except ClientError as e:
            if _status(e) == 404 or _code(e) in {"404", "NoSuchBucket", "NotFound"}:
                raise ServiceUnavailable(
                    f"S3 bucket {self._bucket!r} does not exist: create it (private) before starting"
                ) from e
            if _status(e) == 403:
                raise ServiceUnavailable(
                    f"S3 bucket {self._bucket!r} is not accessible with these credentials (403)"
                ) from e
            raise self._unavailable(f"reach bucket {self._bucket}", e) from e
        except BotoCoreError as e:
            raise self._unavailable(f"reach bucket {self._bucket}", e) from e

        warnings: list[str] = []
        blocked = self._public_access_blocked(warnings)
        if not blocked:
            self._check_policy_status(warnings)
            self._check_acl(warnings)
        for w in warnings:
            log.warning("%s", w)
        return warnings

    def _optional(self, call: str, **kwargs: Any) -> dict[str, Any] | None:
        """The response, or None when the server does not implement the call or the credentials
        may not make it: the app needs only object access and ListBucket, so a role without the
        bucket-reading permissions still starts, with a warning that the check was skipped."""
        try:
            return dict(getattr(self._client, call)(Bucket=self._bucket, **kwargs))
        except ClientError as e:
            if _code(e) in _NOT_IMPLEMENTED or _status(e) == 501:
                log.debug("S3 server does not implement %s; check skipped", call)
                return None
            if _code(e) == "AccessDenied" or _status(e) == 403:
                log.warning(
                    "cannot check whether S3 bucket %r is public: %s is not permitted to these credentials",
                    self._bucket, call,
                )
                return None
            raise

    def _public_access_blocked(self, warnings: list[str]) -> bool:
        try:
            resp = self._optional("get_public_access_block")
        except ClientError as e:
            if _code(e) == "NoSuchPublicAccessBlockConfiguration":
                warnings.append(f"S3 bucket {self._bucket!r} has no public access block configured")
                return False
            raise self._unavailable("read the public access block", e) from e
        if resp is None:
            return False
        conf = resp.get("PublicAccessBlockConfiguration", {})
        flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
        off = [f for f in flags if not conf.get(f)]
        if off:
            warnings.append(f"S3 bucket {self._bucket!r} public access block is partly off: {', '.join(off)}")
        return not off

    def _check_policy_status(self, warnings: list[str]) -> None:
        try:
            resp = self._optional("get_bucket_policy_status")
        except ClientError as e:
            if _code(e) == "NoSuchBucketPolicy":
                return
            raise self._unavailable("read the bucket policy status", e) from e
        if resp and resp.get("PolicyStatus", {}).get("IsPublic"):
            warnings.append(f"S3 bucket {self._bucket!r} has a bucket policy that makes it public")

    def _check_acl(self, warnings: list[str]) -> None:
        try:
            resp = self._optional("get_bucket_acl")
        except ClientError as e:
            raise self._unavailable("read the bucket ACL", e) from e
        for grant in (resp or {}).get("Grants", []):
            if grant.get("Grantee", {}).get("URI") in _PUBLIC_GROUPS:
                warnings.append(
                    f"S3 bucket {self._bucket!r} ACL grants {grant.get('Permission')} to "
                    f"{grant['Grantee']['URI'].rsplit('/', 1)[-1]}"
                )


__all__ = ["S3BlobStore", "content_disposition", "make_s3_client"]
