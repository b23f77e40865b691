from services.surveys.links import TeacherKeys


def test_a_teacher_key_opens_only_its_own_school_and_programme():
    keys = TeacherKeys("secret")
    key = keys.key("gd-2027", "12AB")
    assert len(key) == 32 and keys.valid("gd-2027", "12AB", key)
    assert not keys.valid("gd-2027", "34CD", key)
    assert not keys.valid("gd-2028", "12AB", key)
    assert not TeacherKeys("other secret").valid("gd-2027", "12AB", key)


def test_missing_or_strange_keys_are_refused_not_crashing():
    keys = TeacherKeys("secret")
    for key in (None, "", "é" * 32, "0" * 32):
        assert not keys.valid("gd-2027", "12AB", key)
