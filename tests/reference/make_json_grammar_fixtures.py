#!/usr/bin/env python3
"""Reference verdicts for TGI's JSON grammar (`{"type": "json", "value": <JSON schema>}`).

TGI turns a JSON schema into a regular expression with outlines-core (`json_schema` -> regex with
the default whitespace pattern `[ ]?`) and constrains generation with it: the whole generated text
must match. This script asks the real outlines-core package for that regex, for a set of schemas
covering the features our converter (`crates/server/src/grammar/json_schema.rs`) supports, and
records for each candidate string whether `re.fullmatch(outlines_regex, candidate)` matches. The
Rust test `crates/server/tests/json_grammar.rs` converts the same schemas with our own converter
and must give the same verdict for every candidate. Schemas outlines-core refuses are recorded
with its error message; ours must refuse them too.

Usage (from the repository root):
    python3 -m venv .venv-json
    .venv-json/bin/pip install -r tests/reference/requirements-json-grammar.txt
    .venv-json/bin/python tests/reference/make_json_grammar_fixtures.py

Writes crates/server/tests/fixtures/json_grammar_expected.json (deterministic: a re-run with
the pinned version rewrites a byte-identical file).
"""

from __future__ import annotations

import json
import re
import sys
from importlib.metadata import version
from pathlib import Path

from outlines_core.json_schema import build_regex_from_schema

REPO_ROOT = Path(__file__).resolve().parents[2]
OUT = REPO_ROOT / "crates/server/tests/fixtures/json_grammar_expected.json"

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}

NODE = {
    "$defs": {
        "node": {
            "type": "object",
            "properties": {"value": {"type": "integer"}, "next": {"$ref": "#/$defs/node"}},
            "required": ["value"],
        }
    },
    "$ref": "#/$defs/node",
}


def nested_nodes(n: int) -> str:
    """`{"value":1,"next":{"value":2,...}}` with `n` nodes."""
    text = '{"value":%d}' % n
    for i in range(n - 1, 0, -1):
        text = '{"value":%d,"next":%s}' % (i, text)
    return text


# (name, schema, candidates). Candidates are compact JSON written the way the whitespace pattern
# `[ ]?` allows (at most one space around `{ } [ ] : ,`), plus near misses.
CASES: list[tuple[str, object, list[str]]] = [
    ("object_required", PERSON, [
        '{"name":"Ann","age":31}',
        '{"name": "Ann", "age": 31}',
        '{ "name" : "Ann" , "age" : 31 }',
        '{"name":"","age":-7}',
        '{"name":"Ann"}',
        '{"age":31,"name":"Ann"}',
        '{"name":"Ann","age":"31"}',
        '{"name":"Ann","age":31.5}',
        '{"name":"Ann","age":31,"x":1}',
        '{"name":  "Ann","age":31}',
        '{\n"name":"Ann","age":31}',
        '{"name":"Ann","age":031}',
        '{"name":Ann,"age":31}',
        '{"name":"Ann","age":31',
    ]),
    ("object_optional_around_required", {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}, "c": {"type": "boolean"}},
        "required": ["b"],
    }, [
        '{"b":1}',
        '{"a":"x","b":1}',
        '{"b":1,"c":true}',
        '{"a":"x","b":1,"c":false}',
        '{ "a":"x" , "b":1 , "c":false }',
        '{}',
        '{"a":"x"}',
        '{"a":"x","c":true}',
        '{"c":true,"b":1}',
        '{"b":1,"a":"x"}',
        '{"b":1,}',
        '{"b":1,"c":1}',
        '{"a":"x" ,  "b":1}',
        '{"b":1}  ',
    ]),
    ("object_all_optional", {
        "type": "object",
        "properties": {"x": {"type": "integer"}, "y": {"type": "string"}, "z": {"type": "null"}},
    }, [
        '{}',
        '{ }',
        '{"x":1}',
        '{"y":"a"}',
        '{"z":null}',
        '{"x":1,"y":"a"}',
        '{"x":1,"z":null}',
        '{"y":"a","z":null}',
        '{"x":1,"y":"a","z":null}',
        '{"y":"a","x":1}',
        '{"x":1,}',
        '{,"x":1}',
        '{"w":1}',
        '{"x":null}',
    ]),
    ("additional_properties_false", {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "tag": {"type": "string"}},
        "required": ["id"],
        "additionalProperties": False,
    }, [
        '{"id":1}',
        '{"id":1,"tag":"t"}',
        '{"id":1,"tag":"t","more":2}',
        '{"id":1,"more":2}',
        '{"tag":"t"}',
    ]),
    ("string_length", {
        "type": "object",
        "properties": {"code": {"type": "string", "minLength": 2, "maxLength": 4}},
        "required": ["code"],
    }, [
        '{"code":"ab"}',
        '{"code":"abcd"}',
        '{"code":"a\\"c"}',
        '{"code":"\\n\\t"}',
        '{"code":"éü"}',
        '{"code":"a"}',
        '{"code":"abcde"}',
        '{"code":""}',
        '{"code":12}',
    ]),
    ("string_max_length_only", {"type": "string", "maxLength": 3}, [
        '""', '"a"', '"abc"', '"abcd"', '"a\\\\b"', 'abc',
    ]),
    ("string_pattern", {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2}$"}, [
        '"ABC-12"',
        '"ABC-1"',
        '"abc-12"',
        'ABC-12',
        '"ABC-123"',
        '"ABCD-12"',
    ]),
    ("string_escapes", {"type": "string"}, [
        '""',
        '"plain text"',
        '"quote \\" inside"',
        '"back\\\\slash"',
        '"slash \\/ ok"',
        '"tab\\tnewline\\n"',
        '"unicode é 中 🙂"',
        '"\\u00e9"',
        '"raw \t tab"',
        '"bad \\x escape"',
        '"unterminated',
        '"two" "strings"',
        '"a"b"',
    ]),
    ("enum_strings", {
        "type": "object",
        "properties": {"color": {"type": "string", "enum": ["red", "green", "blue"]}},
        "required": ["color"],
    }, [
        '{"color":"red"}',
        '{"color":"green"}',
        '{"color":"blue"}',
        '{"color":"Red"}',
        '{"color":"yellow"}',
        '{"color":"re"}',
        '{"color":red}',
    ]),
    ("enum_mixed", {"enum": ["a.b", 1, 2.5, True, None, [1, "x"], {"k": "v", "n": 0}]}, [
        '"a.b"',
        '1',
        '2.5',
        'true',
        'null',
        '[1,"x"]',
        '[ 1 , "x" ]',
        '[1,  "x"]',
        '{"k":"v","n":0}',
        '{ "k" : "v" , "n" : 0 }',
        '"aXb"',
        '2.50',
        'false',
        '[1]',
        '{"n":0,"k":"v"}',
    ]),
    ("const", {
        "type": "object",
        "properties": {"kind": {"const": "user"}, "id": {"type": "integer"}},
        "required": ["kind", "id"],
    }, [
        '{"kind":"user","id":7}',
        '{"kind":"admin","id":7}',
        '{"kind":"user"}',
        '{"kind":user,"id":7}',
    ]),
    ("number", {"type": "number"}, [
        '0', '-0', '12', '-12.5', '3.14159', '1e+10', '1E-3', '2.5e+07',
        '01', '1.', '.5', '1e10', '+1', '--1', '1.5.2', 'NaN',
    ]),
    ("integer", {"type": "integer"}, [
        '0', '7', '-42', '1234567890', '00', '-0', '1.0', '1e3', '+3', '',
    ]),
    ("type_array_nullable", {"type": ["string", "null"]}, [
        '"x"', 'null', '""', 'nul', 'None', '1', '"null"',
    ]),
    ("type_array_scalars", {
        "type": "object",
        "properties": {"v": {"type": ["integer", "boolean", "null"]}},
        "required": ["v"],
    }, [
        '{"v":1}', '{"v":true}', '{"v":false}', '{"v":null}', '{"v":"1"}', '{"v":1.5}', '{"v":True}',
    ]),
    ("array_items_bounds", {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 3}, [
        '[1]',
        '[1,2]',
        '[1, 2, 3]',
        '[ 1,2 ]',
        '[]',
        '[1,2,3,4]',
        '[1 ,2]',
        '[1,"2"]',
        '[1,]',
        '[1.5]',
        '[1,  2]',
        '[  1]',
        ' [1]',
    ]),
    ("array_of_objects", {
        "type": "array",
        "items": {"type": "object", "properties": {"id": {"type": "integer"}, "ok": {"type": "boolean"}}, "required": ["id"]},
    }, [
        '[]',
        '[{"id":1}]',
        '[{"id":1,"ok":true},{"id":2}]',
        '[{"id":1}, {"id":2}]',
        '[{"ok":true}]',
        '[{"id":1},]',
        '[{"id":1}{"id":2}]',
    ]),
    ("nested_object", {
        "type": "object",
        "properties": {
            "user": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "admin": {"type": "boolean"}},
                "required": ["name", "admin"],
            },
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        },
        "required": ["user", "tags"],
    }, [
        '{"user":{"name":"a","admin":false},"tags":[]}',
        '{"user":{"name":"a","admin":false},"tags":["x","y"]}',
        '{"user": {"name": "a", "admin": true}, "tags": ["x"]}',
        '{"user":{"name":"a","admin":false},"tags":["x","y","z"]}',
        '{"user":{"name":"a"},"tags":[]}',
        '{"user":{"admin":false,"name":"a"},"tags":[]}',
        '{"user":"a","tags":[]}',
        '{"tags":[],"user":{"name":"a","admin":false}}',
    ]),
    ("any_of", {"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 3}]}, [
        '5', '-5', '"abc"', '""', '"abcd"', '5.5', 'true', 'null',
    ]),
    ("one_of_objects", {
        "oneOf": [
            {"type": "object", "properties": {"cat": {"type": "string"}}, "required": ["cat"]},
            {"type": "object", "properties": {"dog": {"type": "integer"}}, "required": ["dog"]},
        ]
    }, [
        '{"cat":"tom"}', '{"dog":3}', '{"cat":3}', '{"dog":"rex"}', '{"cat":"tom","dog":3}', '{}',
    ]),
    ("all_of_single_ref", {
        "$defs": {"point": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}}, "required": ["x", "y"]}},
        "allOf": [{"$ref": "#/$defs/point"}],
    }, [
        '{"x":1,"y":2.5}', '{"x":-1e+2,"y":0}', '{"x":1}', '{"y":2,"x":1}', '{"x":"1","y":2}',
    ]),
    ("ref_defs", {
        "$defs": {
            "Item": {
                "type": "object",
                "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}},
                "required": ["sku", "qty"],
            }
        },
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/Item"}}},
        "required": ["items"],
    }, [
        '{"items":[]}',
        '{"items":[{"sku":"a","qty":1}]}',
        '{"items":[{"sku":"a","qty":1},{"sku":"b","qty":2}]}',
        '{"items":[{"sku":"a"}]}',
        '{"items":[{"qty":1,"sku":"a"}]}',
        '{"items":{}}',
    ]),
    ("ref_definitions", {
        "definitions": {"Color": {"enum": ["red", "blue"]}},
        "properties": {"fg": {"$ref": "#/definitions/Color"}, "bg": {"$ref": "#/definitions/Color"}},
        "required": ["fg"],
    }, [
        '{"fg":"red"}', '{"fg":"red","bg":"blue"}', '{"fg":"green"}', '{"bg":"blue"}', '{"fg":"red","bg":null}',
    ]),
    ("ref_recursive", NODE, [
        nested_nodes(1),
        nested_nodes(2),
        nested_nodes(3),
        nested_nodes(4),
        nested_nodes(5),
        nested_nodes(6),
        '{"next":{"value":2}}',
        '{"value":1,"next":null}',
    ]),
    ("formats", {
        "type": "object",
        "properties": {
            "day": {"type": "string", "format": "date"},
            "at": {"type": "string", "format": "time"},
            "when": {"type": "string", "format": "date-time"},
            "id": {"type": "string", "format": "uuid"},
        },
        "required": ["day", "at", "when", "id"],
    }, [
        '{"day":"2024-02-29","at":"23:59:59","when":"2024-02-29T23:59:59Z","id":"123e4567-e89b-12d3-a456-426614174000"}',
        '{"day":"2024-12-01","at":"00:00:00Z","when":"2024-12-01T00:00:00.123","id":"00000000-0000-0000-0000-000000000000"}',
        '{"day":"2024-13-01","at":"23:59:59","when":"2024-02-29T23:59:59Z","id":"123e4567-e89b-12d3-a456-426614174000"}',
        '{"day":"2024-02-29","at":"24:00:00","when":"2024-02-29T23:59:59Z","id":"123e4567-e89b-12d3-a456-426614174000"}',
        '{"day":"2024-02-29","at":"23:59:59","when":"2024-02-29 23:59:59","id":"123e4567-e89b-12d3-a456-426614174000"}',
        '{"day":"2024-02-29","at":"23:59:59","when":"2024-02-29T23:59:59Z","id":"123E4567-E89B-12D3-A456-426614174000"}',
        '{"day":"2024-02-29","at":"23:59:59.5","when":"2024-02-29T23:59:59Z","id":"123e4567-e89b-12d3-a456-426614174000"}',
        '{"day":"24-02-29","at":"23:59:59","when":"2024-02-29T23:59:59Z","id":"123e4567-e89b-12d3-a456-426614174000"}',
    ]),
    ("format_email", {"type": "string", "format": "email"}, [
        '"ann@example.com"', '"a.b+c@sub.example.org"', '"ann@[192.168.0.1]"',
        '"ann"', '"ann@"', '"@example.com"', '"Ann@Example.com"', '"ann@example..com"',
    ]),
    ("format_uri", {"type": "string", "format": "uri"}, [
        '"https://example.com"', '"http://user:pw@example.com:8080/a/b?q=1#frag"', '"ftp://files.example.org/x"',
        '"urn:isbn:0451450523"', '"http://localhost:3000/"', '"example.com"', '"https://exa mple.com"', '"mailto:ann@example.com"',
    ]),
    ("empty_schema_any_value", {}, [
        'null', 'true', '0', '-1.5e+3', '"s"', '[]', '{}', '[1,"a",null]', '{"a":1}',
        '{"a":{"b":[1,2]}}', '{"a":{"b":{"c":1}}}', '{"a":{"b":{"c":{"d":1}}}}',
        '[[[1]]]', '[[[[1]]]]', '{"a":[{"b":[1]}]}', 'nul', '{"a"}', '[1,]',
    ]),
    ("generic_object", {"type": "object"}, [
        '{}', '{"a":1}', '{"a":"x","b":[true,null]}', '{"a":{"b":{"c":2}}}', '{"a":{"b":{"c":{"d":2}}}}',
        '[]', '1', '{"a":1,}', '{a:1}', '{"a":1 ,"b":2}', '{"a":1, "b":2}', '{"a":1,  "b":2}', '{"a" :  1}', '{  }',
    ]),
    ("generic_array", {"type": "array"}, [
        '[]', '[1,2.5,"x",true,null]', '[{"a":1},[2]]', '[[[3]]]', '[[[[4]]]]', '{}', '[1,,2]', '[1, 2]', '[1,  2]', '[1 ]', '[1  ]',
    ]),
    ("additional_properties_schema", {"type": "object", "additionalProperties": {"type": "integer"}}, [
        '{}', '{"a":1}', '{"a":1,"b":-2}', '{"a":"x"}', '{"a":1.5}', '{"a":1, "b":2}',
    ]),
    ("min_max_properties", {"type": "object", "additionalProperties": {"type": "boolean"}, "minProperties": 1, "maxProperties": 2}, [
        '{"a":true}', '{"a":true,"b":false}', '{}', '{"a":true,"b":false,"c":true}',
    ]),
    ("prefix_items", {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]}, [
        '["a",1]', '[ "a" , 1 ]', '["a"]', '[1,"a"]', '["a",1,2]', '[]',
    ]),
    ("integer_digits", {"type": "integer", "minDigits": 2, "maxDigits": 3}, [
        '10', '999', '-12', '1', '0', '1000', '01',
    ]),
    ("number_digits", {"type": "number", "maxDigitsInteger": 3, "maxDigitsFraction": 2}, [
        '0', '12', '123', '1234', '1.25', '1.255', '12.', '5', '1e+5',
    ]),
    # Outlines-core bugs our converter fixes on purpose (the Rust test lists these candidates):
    # `{}` as a property schema is spliced in without parentheses, so its alternation escapes the
    # object; a `pattern` with a top-level `|` likewise.
    ("property_any_value", {"type": "object", "properties": {"a": {}}, "required": ["a"]}, [
        'null', '{"a":true}', '{"a":"x"}', '{"a":[1,{"b":2}]}', '{"a":true', '{"a":}',
    ]),
    ("pattern_alternation", {"type": "string", "pattern": "^yes|no$"}, [
        '"yes', 'no"', '"yes"', '"no"', '"yes|no"',
    ]),
    ("string_key_escapes", {
        "type": "object",
        "properties": {"naïve": {"type": "integer"}, "a.b": {"type": "integer"}, "c d": {"type": "integer"}},
        "required": ["naïve", "a.b", "c d"],
    }, [
        '{"naïve":1,"a.b":2,"c d":3}', '{"naive":1,"a.b":2,"c d":3}', '{"naïve":1,"aXb":2,"c d":3}', '{"naïve":1,"a.b":2,"cd":3}',
    ]),
]

# Schemas outlines-core refuses (our converter must refuse them too).
ERRORS: list[tuple[str, object]] = [
    ("unknown_type", {"type": "decimal"}),
    ("unknown_format", {"type": "string", "format": "ipv4"}),
    ("missing_ref", {"properties": {"a": {"$ref": "#/$defs/missing"}}}),
    ("external_ref", {"properties": {"a": {"$ref": "https://example.com/schema.json#/a"}}}),
    ("min_length_above_max", {"type": "string", "minLength": 5, "maxLength": 2}),
    ("no_known_keyword", {"not": {"type": "string"}}),
    ("type_not_string", {"type": 3}),
    ("enum_not_array", {"enum": "a"}),
    ("integer_digits_inverted", {"type": "integer", "minDigits": 4, "maxDigits": 2}),
]


def main() -> None:
    cases = []
    n_candidates = 0
    for name, schema, candidates in CASES:
        regex = build_regex_from_schema(json.dumps(schema))
        compiled = re.compile(regex)
        verdicts = [{"text": c, "matches": compiled.fullmatch(c) is not None} for c in candidates]
        if not verdicts[0]["matches"]:
            sys.exit(f"{name}: the first candidate must be accepted by outlines-core: {regex}")
        if all(v["matches"] for v in verdicts):
            print(f"note: {name}: every candidate matches", file=sys.stderr)
        n_candidates += len(verdicts)
        cases.append({"name": name, "schema": schema, "outlines_regex": regex, "candidates": verdicts})
    errors = []
    for name, schema in ERRORS:
        try:
            regex = build_regex_from_schema(json.dumps(schema))
        except Exception as e:  # outlines-core raises ValueError / TypeError
            errors.append({"name": name, "schema": schema, "outlines_error": str(e).splitlines()[0]})
            continue
        sys.exit(f"{name}: outlines-core accepted the schema: {regex}")
    doc = {
        "generator": "tests/reference/make_json_grammar_fixtures.py",
        "outlines_core": version("outlines_core"),
        "whitespace_pattern": "[ ]?",
        "python": sys.version.split()[0],
        "cases": cases,
        "errors": errors,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(cases)} schemas, {n_candidates} candidates, {len(errors)} refused schemas -> {OUT.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
