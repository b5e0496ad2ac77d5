from collections import Counter
from pathlib import Path

import pytest
import yaml
from dataset_fixtures import (
    make_casme2,
    make_megc_casme2,
    make_megc_samm,
    make_megc_smic,
    make_paper_casme,
)

from microexpr.data.check import check_dataset, format_check
from microexpr.data.loso import loso_folds
from microexpr.data.manifest import write_annotation_csv
from microexpr.data.mappings import emotion_mapping, official_clips
from microexpr.data.protocols import PROTOCOLS, list_protocols, load_protocol
from microexpr.data.registry import list_datasets, load_dataset
from microexpr.errors import ConfigError


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("composites")
    return {
        "casme": make_paper_casme(base / "CASME"),
        "casme2": make_megc_casme2(base / "CASME2"),
        "samm": make_megc_samm(base / "SAMM"),
        "smic": make_megc_smic(base / "SMIC"),
    }


def _counts(records):
    per = Counter(r.dataset for r in records)
    classes = Counter((r.dataset, r.class_name) for r in records)
    return per, classes


def test_registry_names():
    assert list_datasets() == [
        "casme",
        "casme2",
        "casme3a",
        "manifest",
        "samm",
        "smic",
        "synthetic",
    ]
    assert list_protocols() == ["atscnn", "megc2019"]


def test_registry_unknown_name_and_option(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown dataset 'casme_2'; did you mean casme2"):
        load_dataset("casme_2", tmp_path)
    with pytest.raises(
        ConfigError,
        match=r"dataset 'casme2': unknown options \['apex'\]; "
        r"accepted: release, sheet, mapping, clips, apex_outside",
    ):
        load_dataset("casme2", tmp_path, apex="middle")


def test_synthetic_through_registry(tmp_path):
    records, _ = load_dataset("casme2", make_casme2(tmp_path / "c2"))
    write_annotation_csv(records, tmp_path / "c2" / "CASME2_RAW_selected" / "annotations.csv")
    again, issues = load_dataset("synthetic", tmp_path / "c2" / "CASME2_RAW_selected")
    assert [r.clip for r in again] == [r.clip for r in records] and issues == []


def test_official_list_counts():
    for dataset, n, classes in (
        ("casme2", 145, (88, 32, 25)),
        ("samm", 133, (92, 26, 15)),
        ("smic", 164, (70, 51, 43)),
    ):
        clips = official_clips(dataset)
        assert len(clips) == n
        assert tuple(Counter(clips.values())[i] for i in range(3)) == classes
    with pytest.raises(ConfigError, match=r"dataset must be one of \['casme2', 'samm', 'smic'\]"):
        official_clips("casme")


def test_mappings_follow_the_paper():
    casme2 = emotion_mapping("casme2")
    assert [e for e, c in casme2.items() if c is None] == ["fear", "others", "sadness"]
    samm = emotion_mapping("samm")
    assert sorted(e for e, c in samm.items() if c == "negative") == [
        "anger",
        "contempt",
        "disgust",
        "fear",
        "sadness",
    ]
    casme = emotion_mapping("casme")
    assert sorted(e for e, c in casme.items() if c is None) == ["contempt", "fear", "tense"]


def test_megc2019_protocol_selects_the_official_442(roots):
    records, issues = load_protocol("megc2019", {k: roots[k] for k in ("casme2", "samm", "smic")})
    per, classes = _counts(records)
    assert per == {"casme2": 145, "samm": 133, "smic": 164}
    assert len({r.group for r in records}) == 68
    assert sum(classes[(d, "negative")] for d in per) == 250
    assert len(loso_folds([r.group for r in records])) == 68
    # the extra surprise clip is reported, SAMM's apex past its offset is reported and kept
    keys = {i.key: i.reason for i in issues}
    assert "not in the official clip list; excluded" in keys["casme2/sub24/EP07_01"]
    assert keys["samm/028/028_4_1"].endswith(
        "apex 1143 outside onset..offset 1071..1134; kept (apex_outside='keep')"
    )
    listed = {(d, s, c) for d in ("casme2", "samm", "smic") for s, c in official_clips(d)}
    assert {(r.dataset, r.subject, r.clip) for r in records} == listed


def test_atscnn_protocol_matches_the_paper_table(roots):
    check = check_dataset(
        protocol="atscnn", roots={k: roots[k] for k in ("casme", "casme2", "samm")}
    )
    rows = {r.dataset: r for r in check.rows}
    assert (rows["casme"].clips, rows["casme"].subjects, rows["casme"].classes) == (
        104,
        15,
        (82, 7, 15),
    )
    assert (rows["casme2"].clips, rows["casme2"].classes) == (145, (88, 32, 25))
    assert (rows["samm"].clips, rows["samm"].classes) == (133, (92, 26, 15))
    assert (check.total.clips, check.total.subjects, check.total.classes) == (
        382,
        67,
        (262, 65, 55),
    )
    assert check.total.expected == PROTOCOLS["atscnn"].expected
    assert rows["casme"].excluded == 4 and check.skipped == 0
    text = check.format()
    assert "total    382 (382)  67 (67)   262 (262)  65 (65)   55 (55)   0        9" in text


def test_protocol_by_mapping(roots):
    records, _ = load_protocol(
        "megc2019", {k: roots[k] for k in ("casme2", "samm", "smic")}, selection="mapping"
    )
    per, _ = _counts(records)
    assert per == {"casme2": 146, "samm": 133, "smic": 164}


def test_protocol_options_per_dataset(roots):
    records, issues = load_protocol(
        "megc2019",
        {k: roots[k] for k in ("casme2", "samm", "smic")},
        options={"samm": {"apex_outside": "skip"}, "smic": {"apex": "middle"}},
    )
    assert sum(r.dataset == "samm" for r in records) == 132


def test_protocol_errors(roots, tmp_path):
    with pytest.raises(ConfigError, match=r"unknown protocol 'megc'; did you mean megc2019"):
        load_protocol("megc", {})
    with pytest.raises(
        ConfigError,
        match=r"protocol 'atscnn' needs roots for casme, casme2, samm; "
        r"missing: samm; not part of it: smic",
    ):
        load_protocol("atscnn", {"casme": tmp_path, "casme2": tmp_path, "smic": tmp_path})
    with pytest.raises(
        ConfigError,
        match=r"protocol 'megc2019': options given for casme, which "
        r"it does not use",
    ):
        load_protocol(
            "megc2019", {k: roots[k] for k in ("casme2", "samm", "smic")}, options={"casme": {}}
        )
    with pytest.raises(ConfigError, match=r"selection must be one of \['official', 'mapping'\]"):
        load_protocol(
            "megc2019", {k: roots[k] for k in ("casme2", "samm", "smic")}, selection="all"
        )


def test_check_dataset_arguments(tmp_path):
    with pytest.raises(ConfigError, match=r"give either dataset \(with root\) or protocol"):
        check_dataset()
    with pytest.raises(ConfigError, match=r"dataset 'samm': root is required"):
        check_dataset("samm")
    with pytest.raises(ConfigError, match=r"protocol 'atscnn': roots are required"):
        check_dataset(protocol="atscnn")


def test_check_finds_unreadable_frames(tmp_path):
    make_casme2(tmp_path)
    (tmp_path / "CASME2_RAW_selected" / "sub01" / "EP02_01f" / "img59.jpg").write_bytes(b"junk")
    check = check_dataset("casme2", tmp_path)
    (row,) = check.rows
    assert (row.clips, row.skipped, row.excluded) == (3, 6, 1)
    unreadable = [i for i in check.issues if "unreadable" in i.reason]
    assert [(i.key, i.reason) for i in unreadable] == [
        ("casme2/sub01/EP02_01f", "apex frame 59 unreadable")
    ]
    assert check_dataset("casme2", tmp_path, read_frames=False).rows[0].clips == 4


def test_format_check_dataset_and_markdown(tmp_path):
    check = check_dataset("casme2", make_casme2(tmp_path))
    text = format_check(check)
    assert text.splitlines()[2:4] == [
        "dataset  clips  subjects  negative  positive  surprise  skipped  excluded",
        "casme2   4      3         2         1         1         5        1",
    ]
    assert "5 problem(s); 5 clip(s) skipped:" in text
    assert "  frame folder missing [frames]: 1 problem(s), 1 clip(s) skipped" in text
    assert "      casme2/sub07/EP15_01: frame folder missing (" in text
    md = check.format(markdown=True)
    assert "| casme2 | 4 | 3 | 2 | 1 | 1 | 5 | 1 |" in md
    assert "- not a frame number [annotation]: 1 problem(s), 1 clip(s) skipped" in md
    assert "  - casme2/sub04/EP12_01f: CASME2-coding-20190701.xlsx row 6: apex '/'" in md


@pytest.mark.parametrize(
    ("config", "clips", "subjects"),
    [("atscnn_protocol.yaml", 382, 67), ("megc2019_protocol.yaml", 442, 68)],
)
def test_protocol_configs_run_on_the_fixtures(roots, config, clips, subjects):
    path = Path(__file__).resolve().parents[2] / "configs" / config
    data = yaml.safe_load(path.read_text())["data"]
    mine = {name: roots[name] for name in data["roots"]}
    # the experiment runner passes data.options as keywords
    records, _ = load_protocol(data["protocol"], mine, **data["options"])
    assert (len(records), len({r.group for r in records})) == (clips, subjects)
