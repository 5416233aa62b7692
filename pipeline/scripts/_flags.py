def flags(section):
    """A config section as `--key value` flags (booleans as --key / --no-key)."""
    out = []
    for key, value in sorted(section.items()):
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            out.append(flag if value else "--no-" + key.replace("_", "-"))
        elif isinstance(value, list):
            out += [flag, ",".join(str(v) for v in value)]
        elif value is not None:
            out += [flag, str(value)]
    return out
