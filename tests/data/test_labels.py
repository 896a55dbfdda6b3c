import pytest
from hypothesis import given
from hypothesis import strategies as st

from hsta_edu.data.labels import MEGC3_CLASSES, OBJECTIVE_CLASSES, get_scheme, objective_class
from hsta_edu.errors import AnnotationError, ConfigError, HSTAError


def test_megc3_groups_negatives_and_drops_others():
    s = get_scheme("samm", "megc3")
    assert s.classes == MEGC3_CLASSES
    for e in ["Repression", "anger", "Contempt", " Disgust ", "fear", "Sadness"]:
        assert s.assign(e) == "negative"
    assert s.assign("Happiness") == "positive"
    assert s.assign("surprise") == "surprise"
    assert s.assign("Other") is None and s.assign("others") is None


def test_megc2019_casme2_rule_keeps_only_disgust_and_repression_negative():
    s = get_scheme("casme2", "megc2019")
    assert s.assign("disgust") == "negative" and s.assign("repression") == "negative"
    assert s.assign("fear") is None and s.assign("sadness") is None
    # other corpora: the general rule
    assert get_scheme("samm", "megc2019").assign("fear") == "negative"


def test_native_schemes_are_lower_case_and_corpus_spelled():
    assert get_scheme("casme3", "native").assign("Others") == "others"
    assert get_scheme("casme3", "emotion7").classes == ("anger", "disgust", "fear", "happy", "others", "sad",
                                                        "surprise")
    assert get_scheme("casme3", "megc3").assign("sad") == "negative"
    assert get_scheme("casme3", "megc3").assign("happy") == "positive"
    assert get_scheme("samm", "native").assign("Anger") == "anger"


def test_unknown_label_names_the_value():
    with pytest.raises(AnnotationError, match="'joyful'"):
        get_scheme("casme2", "native").assign("joyful", column="Estimated Emotion", row=7)


@pytest.mark.parametrize("value,expected", [(1, "I"), ("7", "VII"), (3.0, "III"), (" iv ", "IV"), ("VI", "VI"),
                                            ("Class II", "II"), (8, None), ("", None), (None, None)])
def test_objective_class_parsing(value, expected):
    assert objective_class(value) == expected


def test_unavailable_scheme_is_a_config_error():
    with pytest.raises(ConfigError, match="objective"):
        get_scheme("smic", "objective")


@given(st.one_of(st.none(), st.text(), st.integers(), st.floats(allow_nan=True), st.booleans()))
def test_assign_returns_class_none_or_package_error(value):
    for corpus, name in [("casme2", "native"), ("casme2", "megc2019"), ("samm", "objective"),
                         ("casme3", "megc3"), ("synthme", "native")]:
        s = get_scheme(corpus, name)
        try:
            out = s.assign(value)
        except HSTAError:
            continue
        assert out is None or out in s.classes or s.open
    assert set(OBJECTIVE_CLASSES) == {objective_class(i) for i in range(1, 8)}
