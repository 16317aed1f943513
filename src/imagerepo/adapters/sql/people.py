"""PeopleRepository in SQL: the faces and persons tables of migration 0100.

Embeddings are stored as 128 little-endian float32 values (512 bytes a face)."""

from __future__ import annotations

import array
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from imagerepo.adapters.sql.dialect import Database, Transaction
from imagerepo.adapters.sql.rows import when
from imagerepo.domain.people import Box, Face, Person

_FACE_COLUMNS = ("id", "owner_id", "image_id", "person_id", "box_x", "box_y", "box_w", "box_h", "embedding",
                 "quality", "pinned", "rejected")


def pack_embedding(values: Sequence[float]) -> bytes:
    a = array.array("f", values)
    if sys.byteorder != "little":
        a.byteswap()
    return a.tobytes()


def unpack_embedding(raw: Any) -> tuple[float, ...]:
    a = array.array("f")
    a.frombytes(bytes(raw))
    if sys.byteorder != "little":
        a.byteswap()
    return tuple(a.tolist())


def face_from_row(row: Any) -> Face:
    return Face(
        id=row["id"], owner_id=row["owner_id"], image_id=row["image_id"],
        box=Box(float(row["box_x"]), float(row["box_y"]), float(row["box_w"]), float(row["box_h"])),
        embedding=unpack_embedding(row["embedding"]), quality=float(row["quality"]),
        person_id=row["person_id"], pinned=bool(row["pinned"]),
        rejected=frozenset(row["rejected"].split()),
    )


def person_from_row(row: Any) -> Person:
    return Person(id=row["id"], owner_id=row["owner_id"], created_at=when(row["created_at"]),
                  name=row["name"], hidden=bool(row["hidden"]))


# Clustering's move of one face, which an owner's correction stops: a pin, or a named or hidden person.
_MOVE = (
    "UPDATE faces SET person_id = ? WHERE id = ? AND owner_id = ? AND NOT pinned"
    " AND NOT EXISTS (SELECT 1 FROM persons p WHERE p.id = faces.person_id AND (p.name IS NOT NULL OR p.hidden))"
)


class SqlPeopleRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add_faces(self, owner_id: str, image_id: str, faces: Sequence[Face]) -> Sequence[Face]:
        try:
            with self._db.transaction() as tx:
                tx.lock(f"people:{owner_id}")
                mine = tx.execute("SELECT 1 FROM images WHERE id = ? AND owner_id = ?", (image_id, owner_id))
                if mine.fetchone() is None:
                    return []
                old = [face_from_row(r) for r in tx.execute(
                    "SELECT * FROM faces WHERE image_id = ? AND owner_id = ? ORDER BY id", (image_id, owner_id)
                ).fetchall()]
                tx.execute("DELETE FROM faces WHERE image_id = ? AND owner_id = ?", (image_id, owner_id))
                if faces:
                    tx.insert("faces", _FACE_COLUMNS, [
                        (f.id, owner_id, image_id, f.person_id, f.box.x, f.box.y, f.box.w, f.box.h,
                         pack_embedding(f.embedding), f.quality, f.pinned, " ".join(sorted(f.rejected)))
                        for f in faces
                    ])
        except self._db.dialect.integrity_error:  # the image was deleted meanwhile: nothing to keep
            return []
        return old

    def faces(self, owner_id: str, *, image_ids: Sequence[str] | None = None) -> Sequence[Face]:
        with self._db.transaction(write=False) as tx:
            if image_ids is None:
                rows = tx.execute("SELECT * FROM faces WHERE owner_id = ? ORDER BY id", (owner_id,)).fetchall()
            elif not image_ids:
                rows = []
            else:
                marks = ", ".join("?" * len(image_ids))
                rows = tx.execute(
                    f"SELECT * FROM faces WHERE owner_id = ? AND image_id IN ({marks}) ORDER BY id",  # noqa: S608
                    (owner_id, *image_ids),
                ).fetchall()
        return [face_from_row(r) for r in rows]

    def covers(self, owner_id: str) -> Sequence[tuple[Face, int]]:
        # One row per person: the People page never reads every embedding of the account.
        with self._db.transaction(write=False) as tx:
            rows = tx.execute(
                "SELECT * FROM (SELECT f.*, ROW_NUMBER() OVER (PARTITION BY f.person_id"
                " ORDER BY f.quality DESC, f.id DESC) AS rn, COUNT(*) OVER (PARTITION BY f.person_id) AS n"
                " FROM faces f WHERE f.owner_id = ? AND f.person_id IS NOT NULL) AS x WHERE x.rn = 1",
                (owner_id,),
            ).fetchall()
        return [(face_from_row(r), int(r["n"])) for r in rows]

    def persons(self, owner_id: str) -> Sequence[Person]:
        with self._db.transaction(write=False) as tx:
            rows = tx.execute("SELECT * FROM persons WHERE owner_id = ? ORDER BY id", (owner_id,)).fetchall()
        return [person_from_row(r) for r in rows]

    def save(self, owner_id: str, persons: Sequence[Person], faces: Sequence[Face],
             deleted_persons: Sequence[str] = ()) -> None:
        d = self._db.dialect
        with self._db.transaction() as tx:
            tx.lock(f"people:{owner_id}")
            for p in persons:
                if p.owner_id != owner_id:
                    continue
                tx.execute(
                    "INSERT INTO persons (id, owner_id, name, hidden, created_at) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET name = excluded.name, hidden = excluded.hidden"
                    " WHERE persons.owner_id = excluded.owner_id",
                    (p.id, owner_id, p.name, p.hidden, d.time(p.created_at)),
                )
            for f in faces:
                tx.execute(
                    "UPDATE faces SET person_id = ?, pinned = ?, rejected = ? WHERE id = ? AND owner_id = ?",
                    (f.person_id, f.pinned, " ".join(sorted(f.rejected)), f.id, owner_id),
                )
            for pid in deleted_persons:
                tx.execute("DELETE FROM persons WHERE id = ? AND owner_id = ?", (pid, owner_id))

    def place(self, owner_id: str, created: Sequence[Person], moves: Mapping[str, str | None],
              deleted_persons: Sequence[str] = ()) -> None:
        d = self._db.dialect
        with self._db.transaction() as tx:
            tx.lock(f"people:{owner_id}")
            for p in created:
                if p.owner_id == owner_id:
                    tx.execute(
                        "INSERT INTO persons (id, owner_id, name, hidden, created_at) VALUES (?, ?, ?, ?, ?)"
                        " ON CONFLICT (id) DO NOTHING",
                        (p.id, owner_id, p.name, p.hidden, d.time(p.created_at)),
                    )
            for face_id, to in moves.items():
                # The conditions are read in this transaction: an owner's correction made after
                # clustering read the faces wins.
                if to is None:
                    tx.execute(_MOVE, (to, face_id, owner_id))
                else:
                    tx.execute(_MOVE + " AND (' ' || rejected || ' ') NOT LIKE ?", (to, face_id, owner_id, f"% {to} %"))
            for pid in deleted_persons:
                tx.execute(
                    "DELETE FROM persons WHERE id = ? AND owner_id = ? AND name IS NULL AND NOT hidden"
                    " AND NOT EXISTS (SELECT 1 FROM faces f WHERE f.person_id = persons.id)",
                    (pid, owner_id),
                )

    def delete_image_faces(self, owner_id: str, image_id: str) -> Sequence[Face]:
        with self._db.transaction() as tx:
            tx.lock(f"people:{owner_id}")
            gone = _delete(tx, "image_id = ? AND owner_id = ?", (image_id, owner_id))
            for pid in sorted({f.person_id for f in gone if f.person_id is not None}):
                # A person (and the name given) goes with the last face: nothing is left to recognize.
                tx.execute("DELETE FROM persons WHERE id = ? AND owner_id = ? AND NOT EXISTS "
                           "(SELECT 1 FROM faces WHERE person_id = ?)", (pid, owner_id, pid))
            return gone

    def delete_owner(self, owner_id: str) -> Sequence[Face]:
        with self._db.transaction() as tx:
            tx.lock(f"people:{owner_id}")
            gone = _delete(tx, "owner_id = ?", (owner_id,))
            tx.execute("DELETE FROM persons WHERE owner_id = ?", (owner_id,))
        return gone


def _delete(tx: Transaction, where: str, params: tuple[Any, ...]) -> list[Face]:
    gone = [face_from_row(r) for r in tx.execute(f"SELECT * FROM faces WHERE {where} ORDER BY id", params).fetchall()]  # noqa: S608
    tx.execute(f"DELETE FROM faces WHERE {where}", params)  # noqa: S608
    return gone
