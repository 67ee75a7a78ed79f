"""`signature_for`: the signature a function's analysis starts from, its four sources merged.

`--assume` options, the function's annotations and the leaf data model are in `shapecheck.static.signature`;
the `@contract(C)` decorator's contract (`shapecheck.static.contracts`) and the body's unpack lines
(`shapecheck.static.unpacks`) both build on that model, so the merge lives above all three.
"""

from __future__ import annotations

import ast
import dataclasses
from typing import Any, Mapping, Optional, Union

from shapecheck.static.contracts import decorator_contract
from shapecheck.static.signature import Declared, Signature, defaults_none, from_source, parameters
from shapecheck.static.unpacks import shapes_from_code


def signature_for(
    fn: Union[ast.FunctionDef, ast.AsyncFunctionDef],
    assume: Mapping[str, Declared] = {},
    contracts: bool = True,
    module: Optional[Any] = None,
) -> Signature:
    """The signature to seed `fn` with: --assume, else its annotations, else the contract of its
    `@contract(C)` decorator (found statically in `module`'s tree), else the body's own unpack lines."""
    own = from_source(fn)
    names = [arg.arg for arg in parameters(fn)]
    lent = decorator_contract(module, fn) if contracts and module is not None else None
    if lent is not None and [n for n in lent.params] == names[: len(lent.params)]:
        own = own if own.declares_shapes else lent
        own = dataclasses.replace(own, dims=lent.dims, rules=lent.rules)
    unknown = sorted(set(assume) - set(names))
    if unknown:
        raise ValueError(f"--assume names {', '.join(unknown)}, not parameters of {fn.name} ({', '.join(names)})")
    missing = [n for n in names if not isinstance(own.params.get(n), Declared) and n not in assume]
    inferred = {n: i for n, i in shapes_from_code(fn, names, defaults_none(fn)).items() if n in missing}
    if inferred:
        origin = (
            own.origin + " and the code's own unpack lines" if own.declares_shapes else "the code's own unpack lines"
        )
        own = dataclasses.replace(
            own,
            params={**own.params, **{n: i.declared for n, i in inferred.items()}},
            origin=origin,
            inferred={n: i.note for n, i in inferred.items()},
        )
    if assume:
        origin = own.origin + " and --assume" if own.declares_shapes else "--assume"
        own = dataclasses.replace(own, params={**own.params, **assume}, origin=origin)
    return own
