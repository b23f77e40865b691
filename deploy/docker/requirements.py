"""Print the requirements of the base install plus the given extras (comma separated), from
pyproject.toml, resolving the project's own `girlsday[...]` references. The Dockerfile installs
them with the lock file as constraints: `pip install -c requirements.lock -r <this output>`."""

import re
import sys
import tomllib

project = tomllib.load(open("pyproject.toml", "rb"))["project"]
wanted = [extra for extra in (sys.argv[1] if len(sys.argv) > 1 else "").split(",") if extra]
requirements, seen = list(project["dependencies"]), set()
while wanted:
    extra = wanted.pop()
    if extra in seen:
        continue
    seen.add(extra)
    for requirement in project["optional-dependencies"][extra]:
        if requirement.startswith("girlsday["):
            wanted.extend(re.findall(r"[\w-]+", requirement.split("[", 1)[1]))
        else:
            requirements.append(requirement)
print("\n".join(dict.fromkeys(requirements)))
