"""People: the faces recognized in my images, grouped; name, merge, hide, move a face."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from imagerepo.domain.errors import ValidationFailed
from imagerepo.domain.people_service import PeopleService
from imagerepo.entrypoints.http.auth import Auth
from imagerepo.entrypoints.http.schemas import JSON_BODY_LIMIT, error_responses
from imagerepo.entrypoints.presenters import FaceOut, PersonOut, person_out


class PeopleOut(msgspec.Struct):
    items: list[PersonOut]


class PersonIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(description="1 to 100 characters", examples=["Grace"])] | None = None
    hidden: Annotated[bool, msgspec.Meta(description="hide the person from the People list")] | None = None


class MergeIn(msgspec.Struct, forbid_unknown_fields=True):
    into: Annotated[str, msgspec.Meta(description="the id of the person that stays")]


class MoveFaceIn(msgspec.Struct, forbid_unknown_fields=True):
    person_id: Annotated[str | None, msgspec.Meta(description="the person the face is; null: not its person")]


@get("/api/v1/people", operation_id="listPeople", tags=["people"], sync_to_thread=True,
     summary="The people recognized in my images",
     description="Most faces first; `name` is null until the owner names the person. Empty unless face "
                 "recognition is on (`PATCH /api/v1/me`).",
     responses=error_responses(401, 503))
def list_people(auth: NamedDependency[Auth], people: NamedDependency[PeopleService]) -> PeopleOut:
    return PeopleOut(items=[person_out(people, s) for s in people.people(auth.account)])


@get("/api/v1/people/{person_id:str}", operation_id="getPerson", tags=["people"], sync_to_thread=True,
     summary="One person", description="Its name, face count and cover face.",
     responses=error_responses(401, 404, 503))
def get_person(person_id: FromPath[str], auth: NamedDependency[Auth],
               people: NamedDependency[PeopleService]) -> PersonOut:
    return person_out(people, people.person(auth.account, person_id))


@patch("/api/v1/people/{person_id:str}", operation_id="updatePerson", tags=["people"], sync_to_thread=True,
       request_max_body_size=JSON_BODY_LIMIT, summary="Name or hide a person",
       description="`name`: 1 to 100 characters; later grouping never changes it. `hidden` (extension): "
                   "leave the person out of the People list.",
       responses=error_responses(400, 401, 404, 413, 415, 422, 503))
def update_person(person_id: FromPath[str], data: JSONBody[PersonIn], auth: NamedDependency[Auth],
                  people: NamedDependency[PeopleService]) -> PersonOut:
    if data.name is None and data.hidden is None:
        raise ValidationFailed("Give name, hidden or both.", {"name": ["give name, hidden or both"]})
    summary = people.person(auth.account, person_id)
    if data.name is not None:
        summary = people.rename(auth.account, person_id, data.name)
    if data.hidden is not None:
        summary = people.hide(auth.account, person_id, data.hidden)
    return person_out(people, summary)


@post("/api/v1/people/{person_id:str}/merge", operation_id="mergePerson", tags=["people"], status_code=200,
      sync_to_thread=True, request_max_body_size=JSON_BODY_LIMIT, summary="Merge a person into another",
      description="Every face of this person moves into `into` for good; `into` keeps its name (or takes this "
                  "one's) and is returned. This person's id is gone afterwards.",
      responses=error_responses(400, 401, 404, 413, 415, 503))
def merge_person(person_id: FromPath[str], data: JSONBody[MergeIn], auth: NamedDependency[Auth],
                 people: NamedDependency[PeopleService]) -> PersonOut:
    return person_out(people, people.merge(auth.account, person_id, into=data.into))


@post("/api/v1/faces/{face_id:str}/person", operation_id="moveFace", tags=["people"], status_code=200,
      sync_to_thread=True, request_max_body_size=JSON_BODY_LIMIT, summary="Correct who a face is (extension)",
      description="`person_id`: put the face in that person for good; null: it is not its person, and "
                  "grouping never gives it back to that person.",
      responses=error_responses(400, 401, 404, 413, 415, 503))
def move_face(face_id: FromPath[str], data: JSONBody[MoveFaceIn], auth: NamedDependency[Auth],
              people: NamedDependency[PeopleService]) -> FaceOut:
    face = people.move_face(auth.account, face_id, data.person_id)
    person = people.person(auth.account, face.person_id).person if face.person_id else None
    return FaceOut.of(face, person)


ROUTES = [list_people, get_person, update_person, merge_person, move_face]
