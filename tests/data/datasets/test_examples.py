import builtins

from hsta_edu.data import examples
from hsta_edu.data.datasets import detect_dataset, load_casme3, load_dataset, load_smic


def test_the_examples_have_one_home():
    import importlib.util

    assert importlib.util.find_spec("hsta_edu.data.datasets.examples") is None   # no former-home alias


def test_build_examples_detected_and_tree(tmp_path):
    paths = examples.build_examples(tmp_path, corpora=("casme2", "smic", "folder"), casme2_cropped=True)
    assert {k: detect_dataset(v) for k, v in paths.items()} == {"casme2": "casme2", "smic": "smic",
                                                                "folder": "folder"}
    assert (paths["casme2"] / "Cropped" / "sub01").is_dir()
    text = examples.tree(paths["casme2"], max_entries=2, max_depth=3)
    lines = text.splitlines()
    assert lines[0] == "casme2/" and "├── CASME2_RAW_selected/" in text and "... " in text
    assert "├── CASME2-coding-20140508.xlsx" in text and "... 24 more folders" in text   # 26 subjects shown as 2
    assert all(line.count("│   ") + line.count("    ") <= 3 for line in lines)


def test_smic_variants(tmp_path):
    examples.build_smic(tmp_path, variants=("HS", "VIS", "NIR"))
    hs, vis = load_smic(tmp_path), load_smic(tmp_path, variant="VIS")
    assert len(hs) == 164 and 0 < len(vis) < len(hs)
    assert {c.subject for c in vis.clips} <= {f"s{s}" for s in range(11, 21)}
    assert len(load_smic(tmp_path, variant="NIR")) == len(vis)


def test_casme3_full_file_without_xlwt(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_xlwt(name, *a, **kw):
        if name == "xlwt":
            raise ImportError("no xlwt")
        return real_import(name, *a, **kw)
    monkeypatch.setattr(builtins, "__import__", no_xlwt)
    examples.build_casme3(tmp_path, n_macro=14)
    assert (tmp_path / "CAS(ME)3_part_A_v2.xlsx").is_file()
    ix = load_casme3(tmp_path, scheme="objective", macro=True)
    assert sum(c.meta.get("expression") == "macro" for c in ix.clips) == 14
    assert len(load_dataset(tmp_path)) == 855


def test_build_examples_shares_the_composite(tmp_path):
    paths = examples.build_examples(tmp_path, corpora=("composite", "samm"))
    assert list(paths) == ["composite", "samm"] and paths["samm"] == tmp_path / "composite" / "SAMM_v2"
    assert detect_dataset(paths["composite"]) == "composite" and detect_dataset(paths["samm"]) == "samm"
    assert (tmp_path / "composite" / "SMIC" / "SMIC_all_cropped" / "VIS").is_dir()
