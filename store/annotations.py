"""The run store's annotations and deletion: tags, notes, names, user models, deleting a run
(a part of RunStore, store/runs.py)."""

from __future__ import annotations

import json
from typing import Any

from ..engine.text import unprintable
from .run_records import (
    NOTE_LIMIT,
)


class RunAnnotations:
    """Of RunStore: uses its db, write() and _dicts()."""

    def user_models(self) -> list[dict[str, Any]]:
        """The model files of recorded runs, one row per file and source version, newest first."""
        return self._dicts(
            """SELECT model, count(*) AS runs, max(id) AS last, max(params) AS params FROM runs
               WHERE json_extract(config, '$.model_source') != '' GROUP BY model ORDER BY last DESC"""
        )

    @staticmethod
    def tag_problem(tag: str) -> str | None:
        """Why a word cannot be a tag (one printable word of at most 50 characters, no commas)."""
        if not tag or len(tag) > 50 or "," in tag or unprintable(tag) or any(ch.isspace() for ch in tag):
            return f"{tag!r} is not a tag; a tag is one printable word of at most 50 characters, without commas"
        return None

    @classmethod
    def tag_changes(cls, words: list[str]) -> tuple[list[str], list[str]]:
        """The tag syntax, for the CLI and the app: +name (or a bare name) adds, -name removes.
        (tags to add, tags to remove); ValueError naming the first word that is not a tag."""
        add = [word[1:] if word.startswith("+") else word for word in words if not word.startswith("-")]
        remove = [word[1:] for word in words if word.startswith("-")]
        if problem := next(filter(None, map(cls.tag_problem, add + remove)), None):
            raise ValueError(problem)
        return add, remove

    @staticmethod
    def note_problem(note: str) -> str | None:
        """Why a text cannot be a note (printable, at most NOTE_LIMIT characters); None if it can."""
        if problem := unprintable(note):
            return f"a note {problem}"
        if len(note) > NOTE_LIMIT:
            return f"a note holds at most {NOTE_LIMIT:,} characters (got {len(note):,})"
        return None

    def tag(self, run_id: int, add: list[str] = (), remove: list[str] = ()) -> list[str] | None:
        """Add and remove tags of a run; its tags after, or None if there is no such run.
        ValueError for a word that is not a tag (tag_problem)."""
        if problem := next(filter(None, map(self.tag_problem, [*add, *remove])), None):
            raise ValueError(problem)
        with self.write():
            row = self.db.execute("SELECT tags FROM runs WHERE id = ?", [run_id]).fetchone()
            if row is None:
                return None
            tags = [t for t in json.loads(row[0] or "[]") if t not in remove]
            tags += [t for t in dict.fromkeys(add) if t not in tags]
            self.db.execute("UPDATE runs SET tags = ? WHERE id = ?", [json.dumps(tags), run_id])
        return tags

    def set_note(self, run_id: int, note: str) -> bool:
        """ValueError for a text that cannot be a note (note_problem)."""
        if problem := self.note_problem(note):
            raise ValueError(problem)
        with self.write():
            return self.db.execute("UPDATE runs SET note = ? WHERE id = ?", [note, run_id]).rowcount == 1

    def rename(self, run_id: int, name: str) -> bool:
        """A new name, in the run's row and in its config (so that clones and exports agree)."""
        with self.write():
            return (
                self.db.execute(
                    "UPDATE runs SET name = ?, config = json_set(config, '$.name', ?) WHERE id = ?",
                    [name, name, run_id],
                ).rowcount
                == 1
            )

    def delete(self, run_id: int) -> bool:
        """Delete a run that is not running, with its epochs and losses."""
        with self.write():
            cursor = self.db.execute("DELETE FROM runs WHERE id = ? AND status != 'running'", [run_id])
        return cursor.rowcount == 1
