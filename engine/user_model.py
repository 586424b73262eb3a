"""A model from the user's own file: `--model path/to/net.py:Net` (a class, or a function that
returns a module).

The file's source is read once, when the run is made, and kept in its config (`model_source`):
the run trains, resumes and is cloned from that text, on any machine, whatever becomes of the
file. The code is compiled under a name that carries the source's hash, so a traceback points
at the recorded lines, not at today's file.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import linecache
import sys
import traceback
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

SUFFIX = ".py:"


class UserModelError(RuntimeError):
    """The user's model cannot be built or run: `str()` is one line, `detail` the traceback."""

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail


def is_user_model(name: str) -> bool:
    """'net.py:Net' names a model in a file; a built-in name never contains '.py:'."""
    path, _, attribute = name.rpartition(SUFFIX)
    return bool(path) and attribute.isidentifier()


def split(name: str) -> tuple[str, str]:
    """(the file's path as given, the class or function name)."""
    path, _, attribute = name.rpartition(SUFFIX)
    return path + ".py", attribute


def source_hash(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:8]


def label(name: str, source: str) -> str:
    """How tables show a user model: the file's name, the class and the source's short hash."""
    path, attribute = split(name)
    return f"{Path(path).name}:{attribute}@{source_hash(source)}"


def read_source(name: str, base: Path | None = None) -> str:
    """The file's text, checked without running it: it parses, and it defines the name at its top
    level. A UserModelError says what is wrong in one line (the New form shows it by the field)."""
    path, attribute = split(name)
    file = Path(path).expanduser()
    if base is not None and not file.is_absolute():
        file = base / file
    try:
        source = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserModelError(f"model: no file {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserModelError(f"model: cannot read {path} ({getattr(error, 'strerror', None) or error})") from None
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as error:
        raise UserModelError(
            f"model: {path} line {error.lineno}: syntax error ({error.msg})", _syntax_detail(error, path)
        ) from None
    defined = {
        node.name for node in tree.body if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
    } | {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    if attribute not in defined:
        shown = ", ".join(sorted(defined)) or "nothing"
        raise UserModelError(f"model: {path} defines no {attribute} (it defines {shown})")
    return source


_modules: dict[str, types.ModuleType] = {}  # by the file name its code was compiled under
_loading: set[str] = set()  # compiled, still running its top level (an import error's frames are there)


def load(name: str, source: str) -> Any:
    """The class or function, from the recorded source (compiled once per process)."""
    path, attribute = split(name)
    filename = f"{Path(path).name}@{source_hash(source)}"
    module = _modules.get(filename)
    if module is None:
        module = types.ModuleType(f"cifar_tui_user_{source_hash(source)}")
        module.__file__ = filename
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        sys.modules[module.__name__] = module  # dataclasses and pickling look their module up
        try:
            exec(compile(source, filename, "exec"), module.__dict__)
        except BaseException as error:
            sys.modules.pop(module.__name__, None)
            raise UserModelError(
                f"model: {Path(path).name} failed to load: {_one_line(error)}", user_traceback(error)
            ) from None
        _modules[filename] = module
    found = getattr(module, attribute, None)
    if not callable(found):
        raise UserModelError(f"model: {Path(path).name} defines no {attribute} that can be called")
    return found


def build(name: str, source: str, num_classes: int, dropout: float) -> nn.Module:
    """Call the class (or function) with num_classes, and dropout when it takes one."""
    from torch import nn

    make = load(name, source)
    _, attribute = split(name)
    try:
        parameters = inspect.signature(make).parameters
    except (TypeError, ValueError):
        parameters = {}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    if "num_classes" not in parameters and not takes_any:
        raise UserModelError(f"model: {attribute} takes no num_classes argument; give it one (10 for CIFAR-10)")
    arguments: dict[str, Any] = {"num_classes": num_classes}
    if "dropout" in parameters or takes_any:
        arguments["dropout"] = dropout
    try:
        model = make(**arguments)
    except Exception as error:
        raise UserModelError(f"model: {attribute}(...) raised {_one_line(error)}", user_traceback(error)) from None
    if not isinstance(model, nn.Module):
        raise UserModelError(f"model: {attribute}(...) returned a {type(model).__name__}, not a torch.nn.Module")
    return model


def check_output(model: nn.Module, name: str, num_classes: int, device) -> None:
    """One forward pass of two blank images: a model that does not take 3x32x32 input, or does not
    return (batch, num_classes) logits, fails now with what came out, before any training."""
    import torch

    _, attribute = split(name)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            output = model(torch.zeros(2, 3, 32, 32, device=device))
    except Exception as error:
        raise UserModelError(
            f"model: {attribute} failed on a batch of 3x32x32 images: {_one_line(error)}", user_traceback(error)
        ) from None
    finally:
        model.train(was_training)
    shape = tuple(output.shape) if isinstance(output, torch.Tensor) else None
    if shape != (2, num_classes):
        got = f"shape {shape}" if shape is not None else f"a {type(output).__name__}"
        raise UserModelError(
            f"model: {attribute} returned {got} for 2 images; expected (2, {num_classes}): one logit per class"
        )


def user_traceback(error: BaseException) -> str:
    """The traceback from the first frame in the user's file on (the engine's frames before it
    say nothing to the user); the whole traceback if no frame is theirs."""
    frames = traceback.extract_tb(error.__traceback__)
    theirs = next(
        (i for i, frame in enumerate(frames) if frame.filename in _modules or frame.filename in _loading), None
    )
    if theirs is None:
        return "".join(traceback.format_exception(error))
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames[theirs:])]
    return "".join(lines + traceback.format_exception_only(error))


def _syntax_detail(error: SyntaxError, path: str) -> str:
    return "".join(traceback.format_exception_only(error)).replace(f'File "{path}"', f'File "{Path(path).name}"')


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200]}" if text else type(error).__name__
