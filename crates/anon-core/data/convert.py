#!/usr/bin/env python3
"""Regenerates the engine's own copy of PS3.15 Table E.1-1 and of the seed profiles.

Not run at build time (the build only reads the generated .tsv files through include_str!).
Inputs: the team's reference CSVs (ps3.15-table-e1-1.csv, seed-profiles.csv) and the
dicom-dictionary-std 0.10 tag list (for each attribute's VR). Usage:

    convert.py TABLE_CSV SEED_CSV DICT_TAGS_RS OUT_DIR
"""
import csv
import re
import sys

table_csv, seed_csv, dict_rs, out_dir = sys.argv[1:5]

vr_of = {}
for line in open(dict_rs, encoding="utf-8"):
    m = re.match(r"^/// (\w+) \(([0-9A-Fa-fx]{4}),([0-9A-Fa-fx]{4})\) (\S+) ", line)
    if m:
        vr_of[m.group(2).upper() + "," + m.group(3).upper()] = (m.group(1), m.group(4))

WILDCARD_VR = {"50xx,xxxx": "*", "60xx,3000": "OW", "60xx,4000": "LT", "gggg,eeee": "*"}
OPTS = ["rtn_safe_priv", "rtn_uids", "rtn_dev_id", "rtn_inst_id", "rtn_pat_chars",
        "rtn_long_full_dates", "rtn_long_modif_dates", "clean_desc", "clean_struct_cont",
        "clean_graph"]

rows = list(csv.DictReader(open(table_csv, encoding="utf-8")))
assert len(rows) == 656, len(rows)
with open(f"{out_dir}/e1-1-2026c.tsv", "w", encoding="utf-8", newline="\n") as out:
    out.write("# DICOM PS3.15 Table E.1-1 (Application Level Confidentiality Profile Attributes),\n")
    out.write("# edition 2026c: 656 rows, in the standard's row order.\n")
    out.write("# Provenance: NEMA DocBook part15.xml (SHA-256 77d60b856faf4223ab40a398c53130fc0ee9490d0d811ee3536e6d25c02ac717),\n")
    out.write("# parsed by the team into ps3.15-table-e1-1.csv and cross-checked against innolitics (2024b),\n")
    out.write("# pymedphys (2026d, all 656 rows equal) and Kitware (2024b). Converted by data/convert.py.\n")
    out.write("# VR column: from the PS3.6 dictionary of dicom-dictionary-std 0.10; wildcard rows: * (any).\n")
    out.write("# Option columns: '-' = the option does not change the row.\n")
    out.write("# tag\tkeyword\tvr\tretired\tbasic\t" + "\t".join(OPTS) + "\tname\n")
    for r in rows:
        tag = r["tag"]
        vr = WILDCARD_VR.get(tag) or vr_of[tag][1]
        kw = r["keyword"] or "-"
        cells = [tag, kw, vr, r["retired"], r["basic"]] + [r[o] or "-" for o in OPTS] + [r["name"]]
        assert all("\t" not in c for c in cells)
        out.write("\t".join(cells) + "\n")

# Seed profiles: the team's decisions are applied here and recorded per row.
seeds = list(csv.DictReader(open(seed_csv, encoding="utf-8")))
basic_of = {r["tag"]: r["basic"] for r in rows}
with open(f"{out_dir}/seed-profiles.tsv", "w", encoding="utf-8", newline="\n") as out:
    out.write("# Tag tables of the seed documents, as depot applies them (see docs/deid.md).\n")
    out.write("# Provenance: seed 001 (NiDB 'DICOM Anonymization' page), 002 (QMENTA de-identification table),\n")
    out.write("# 004 (Supplement 142 based list, 43 of the 222 tags it claims), via the team's seed-profiles.csv.\n")
    out.write("# Decisions: duplicates merged; QMENTA CurveDate moved from 0008,0024 to 0008,0025;\n")
    out.write("# sup142 'nulled' = the row's PS3.15 2026c Basic action, or U (as in 2017a) for the two UID\n")
    out.write("# rows no longer in the table; keyword column holds the real DICOM keyword.\n")
    out.write("# profile\ttag\tkeyword\taction\tdecision\n")
    seen = set()
    for s in seeds:
        prof, tag, action = s["profile"], s["tag"], s["action"]
        decision = "as written"
        if prof == "qmenta" and s["name"] == "CurveDate":
            tag, decision = "0008,0025", "seed wrote 0008,0024 (Overlay Date); applied to Curve Date by name"
        if prof == "seed-004-sup142":
            prof = "sup142"
            if tag in basic_of:
                action, decision = basic_of[tag], "nulled = PS3.15 2026c Basic action"
            else:
                action, decision = "U", "not in 2026c; U as in PS3.15 2017a"
        if prof.startswith("nidb"):
            continue  # NiDB's lists are built into the anonymize / anonymize-full levels
        if prof == "qmenta" and tag in ("0040,A120", "0040,A121", "0040,A122"):
            decision = "X as written (PS3.15 Basic says D)"
        key = (prof, tag)
        if key in seen:
            continue  # duplicate row of the seed, merged
        seen.add(key)
        kw = vr_of[tag][0] if tag in vr_of else s["name"].replace(" ", "")
        out.write("\t".join([prof, tag, kw, action, decision]) + "\n")
