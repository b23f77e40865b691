"""Pure allocation engine of the matching service: no I/O, no framework."""

from .group_mode import allocate_groups
from .individual_mode import allocate_pupils
from .model import Activity, Allocation, Group, Part, Pupil, Quality

__all__ = ["Activity", "Allocation", "Group", "Part", "Pupil", "Quality", "allocate_groups", "allocate_pupils"]
