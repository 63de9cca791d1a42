#!/usr/bin/env python3
"""Derives where Prometheus's scrape-config model keeps `Secret`-typed values.

Reads the Go structs of a prometheus/prometheus checkout (`config/`, every registered
`discovery/*` SDConfig) and of prometheus/common (`config/`), follows every field from
`config.ScrapeConfig` and from each `<name>_sd_configs` entry down to the fields whose Go type is
`Secret`, `[]Secret` or `ProxyHeader` (`map[string][]Secret`), flattens `yaml:",inline"`
embeddings, and prints Sources/ServiceDiscoveryAPI/PrometheusSecretFields.swift.

    scripts/derive-secret-fields.py PROMETHEUS_DIR COMMON_DIR "prometheus v3.14.0, common v0.70.1" \
        > Sources/ServiceDiscoveryAPI/PrometheusSecretFields.swift

The directories are work trees (or `git archive` extractions) at the versions the upstream
allocator builds against (its go.mod). Only the shape of Go's type declarations is parsed: a
field the script cannot type is reported on stderr, never guessed.
"""

import os
import re
import sys

COMMON = "common"


def go_files(root):
    for directory, _, files in os.walk(root):
        for name in sorted(files):
            if name.endswith(".go") and not name.endswith("_test.go"):
                yield os.path.join(directory, name)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


class Package:
    def __init__(self, key):
        self.key = key
        self.structs = {}  # type name -> list of (name, type, tag)
        self.aliases = {}  # type name -> underlying type text
        self.imports = {}  # local alias -> import path
        self.registered = []  # SDConfig type names passed to RegisterConfig
        self.names = {}  # type name -> Name() result
        self.anonymous = set()  # structs with an anonymous struct field (not followed)


def parse_imports(text, package):
    for block in re.findall(r"^import\s*\((.*?)\)", text, flags=re.S | re.M):
        for line in block.splitlines():
            m = re.match(r'\s*(\w+)?\s*"([^"]+)"', line)
            if m:
                alias = m.group(1) or m.group(2).rsplit("/", 1)[-1]
                package.imports[alias] = m.group(2)
    for m in re.finditer(r'^import\s+(\w+)?\s*"([^"]+)"', text, flags=re.M):
        alias = m.group(1) or m.group(2).rsplit("/", 1)[-1]
        package.imports[alias] = m.group(2)


def struct_body(text, start):
    """The text between the brace at `start` and its match."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i]
    raise ValueError("unbalanced braces")


def parse_fields(body):
    fields = []
    for raw in body.splitlines():
        line = raw.strip()
        if not line:
            continue
        tag = ""
        m = re.search(r"`([^`]*)`", line)
        if m:
            tag = m.group(1)
            line = line[: m.start()].strip()
        parts = line.split(None, 1)
        if len(parts) == 1:  # embedded type
            fields.append((None, parts[0], tag))
        else:
            for name in parts[0].split(","):
                fields.append((name.strip(), parts[1].strip(), tag))
    return fields


def parse_package(key, files):
    package = Package(key)
    for path in files:
        text = strip_comments(open(path, encoding="utf-8").read())
        parse_imports(text, package)
        for m in re.finditer(r"\btype\s+(\w+)\s+struct\s*\{", text):
            body = struct_body(text, m.end() - 1)
            if re.search(r"\bstruct\s*\{", body):
                package.anonymous.add(m.group(1))
                body = re.sub(r"\bstruct\s*\{[^{}]*\}", "struct{}", body)
            package.structs[m.group(1)] = parse_fields(body)
        for m in re.finditer(r"^type\s+(\w+)\s+([^\s{][^\n]*)$", text, flags=re.M):
            if not m.group(2).startswith("struct") and not m.group(2).startswith("interface"):
                package.aliases[m.group(1)] = m.group(2).strip().removeprefix("=").strip()
        package.registered += re.findall(r"RegisterConfig\(&(\w+)\{\}\)", text)
        for m in re.finditer(r"func\s*\(\s*(?:\w+\s+)?\*?(\w+)\s*\)\s*Name\(\)\s*string\s*\{\s*return\s+\"([^\"]+)\"", text):
            package.names[m.group(1)] = m.group(2)
    return package


def yaml_name(tag):
    m = re.search(r'yaml:"([^"]*)"', tag)
    if not m:
        return None, False
    parts = m.group(1).split(",")
    return parts[0], "inline" in parts[1:]


class Deriver:
    def __init__(self, packages):
        self.packages = packages  # key -> Package
        self.memo = {}
        self.unresolved = set()

    def package_for(self, package, qualifier):
        path = package.imports.get(qualifier)
        if path is None:
            return None
        if path == "github.com/prometheus/common/config":
            return self.packages.get(COMMON)
        for key, candidate in self.packages.items():
            if key != COMMON and path.endswith("/prometheus/" + key):
                return candidate
        return None

    def kind(self, package, type_text):
        """The secret shape of a Go type: None (no secret), "secret", ("map", k), ("object", key)."""
        t = type_text.strip()
        while t.startswith("*") or t.startswith("[]"):
            t = t[1:] if t.startswith("*") else t[2:]
        if t.startswith("map["):
            depth, i = 0, 3
            while True:
                if t[i] == "[":
                    depth += 1
                elif t[i] == "]":
                    depth -= 1
                    if depth == 0:
                        break
                i += 1
            inner = self.kind(package, t[i + 1 :])
            return ("map", inner) if inner else None
        if t in ("string", "bool", "byte", "rune", "any", "interface{}", "struct{}") or re.fullmatch(r"u?int(8|16|32|64)?|float(32|64)", t) \
                or t.startswith("func(") or t.startswith("chan "):
            return None
        target, name = package, t
        if "." in t:
            qualifier, name = t.split(".", 1)
            target = self.package_for(package, qualifier)
            if target is None:
                return None  # a type outside Prometheus's config model (model.Duration, url.URL, …)
        if target.key == COMMON and name == "Secret":
            return "secret"
        if name in target.structs:
            key = (target.key, name)
            return ("object", key) if self.fields(key) else None
        if name in target.aliases:
            return self.kind(target, target.aliases[name])
        self.unresolved.add(f"{target.key}.{name}")
        return None

    def fields(self, key):
        """Field name -> shape, for one struct, inline embeddings flattened; only secret-bearing fields."""
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = {}  # breaks cycles
        package = self.packages[key[0]]
        if key[1] in package.anonymous:
            self.unresolved.add(f"{key[0]}.{key[1]} (an anonymous struct field)")
        out = {}
        for name, type_text, tag in package.structs[key[1]]:
            yname, inline = yaml_name(tag)
            if yname == "-" or (name is not None and not name[0].isupper() and not inline):
                continue
            shape = self.kind(package, type_text)
            if shape is None:
                continue
            if inline or (name is None and not yname):
                if shape[0] == "object":
                    out.update(self.fields(shape[1]))
                elif shape[0] == "map":  # an inlined map: every key of the parent holds this shape
                    out["*"] = shape[1]
                continue
            out[yname or name.lower()] = shape
        self.memo[key] = out
        return out


def swift_name(key):
    package, name = key
    prefix = re.sub(r"[^A-Za-z0-9]", "", package)
    return prefix + name


def swift_shape(shape):
    if shape == "secret":
        return ".secret"
    if shape[0] == "map":
        return f".map({swift_shape(shape[1])})"
    return f".object({swift_name(shape[1])})"


def main():
    prometheus_dir, common_dir, versions = sys.argv[1:4]
    packages = {COMMON: parse_package(COMMON, go_files(os.path.join(common_dir, "config")))}
    packages["config"] = parse_package("config", go_files(os.path.join(prometheus_dir, "config")))
    discovery_root = os.path.join(prometheus_dir, "discovery")
    for entry in sorted(os.listdir(discovery_root)):
        directory = os.path.join(discovery_root, entry)
        if os.path.isdir(directory):
            files = [p for p in go_files(directory) if os.path.dirname(p) == directory]
            packages["discovery/" + entry] = parse_package("discovery/" + entry, files)

    deriver = Deriver(packages)
    scrape = deriver.fields(("config", "ScrapeConfig"))
    mechanisms = {}
    for key, package in sorted(packages.items()):
        for type_name in package.registered:
            struct = type_name
            while struct not in package.structs:  # `type KumaSDConfig = SDConfig`
                struct = package.aliases[struct]
            mechanisms[package.names[type_name]] = (key, struct)
    sd_shapes = {name: deriver.fields(key) for name, key in mechanisms.items()}

    emitted, order = set(), []

    def visit(fields):
        for shape in fields.values():
            while shape != "secret" and shape[0] == "map":
                shape = shape[1]
            if shape != "secret" and shape[1] not in emitted:
                emitted.add(shape[1])
                visit(deriver.fields(shape[1]))
                order.append(shape[1])

    visit(scrape)
    for fields in sd_shapes.values():
        visit(fields)

    def literal(fields, indent):
        """A dictionary literal, wrapped at 130 columns."""
        if not fields:
            return "[:]"
        items = [f'"{k}": {swift_shape(v)}' for k, v in sorted(fields.items())]
        lines, line = [], ""
        for item in items:
            if line and len(indent) + 4 + len(line) + len(item) + 2 > 130:
                lines.append(line.rstrip())
                line = ""
            line += item + ", "
        lines.append(line.rstrip().rstrip(","))
        if len(lines) == 1 and len(indent) + len(lines[0]) < 100:
            return f"[{lines[0]}]"
        inner = "\n".join(f"{indent}    {l}" for l in lines)
        return f"[\n{inner}\n{indent}]"

    out = [
        "// Generated by scripts/derive-secret-fields.py from the Go structs of",
        f"// {versions}.",
        "// Do not edit; regenerate when the Prometheus version the allocator targets changes.",
        "",
        "/// Where Prometheus's scrape-config model keeps values of type `Secret`: for each struct that",
        "/// (transitively) holds one, its YAML field names mapped to the shape found there. `\"*\"` stands",
        "/// for every key of an inlined map (`http_headers`). Structs without secrets are left out.",
        "enum PrometheusSecretFields {",
    ]
    for key in order:
        out.append(f"    /// `{key[0]}.{key[1]}`")
        out.append(f"    static let {swift_name(key)}: [String: SecretField] = {literal(deriver.fields(key), '    ')}")
    out.append("")
    out.append("    /// `config.ScrapeConfig`, without its `<name>_sd_configs` lists (see `serviceDiscovery`).")
    out.append(f"    static let scrapeConfig: [String: SecretField] = {literal(scrape, '    ')}")
    out.append("")
    out.append("    /// Every registered service-discovery mechanism (`<name>_sd_configs`) and its secret fields;")
    out.append("    /// an empty entry is a mechanism without any.")
    out.append("    static let serviceDiscovery: [String: [String: SecretField]] = [")
    for name in sorted(sd_shapes):
        out.append(f"        // {mechanisms[name][0]}.{mechanisms[name][1]}")
        out.append(f'        "{name}": {literal(sd_shapes[name], "        ")},')
    out.append("    ]")
    out.append("}")
    print("\n".join(out))
    for name in sorted(deriver.unresolved):
        print(f"warning: {name} not followed; check it by hand", file=sys.stderr)


if __name__ == "__main__":
    main()
