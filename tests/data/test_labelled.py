"""The typed dataset interface (hsta_edu/data/labelled.py): `LabelledDataset`, `dataset_info`,
`DatasetInfo`; and that training, protocols and fingerprints read a dataset as they did before it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from hsta_edu.data.clip import Clip, DatasetIndex, require_classes
from hsta_edu.data.datasets import load_dataset
from hsta_edu.data.labelled import DatasetInfo, LabelledDataset, dataset_info
from hsta_edu.data.prep import PrepConfig
from hsta_edu.data.torch_data import MERDataset, SpecialCrop
from hsta_edu.errors import DataError
from hsta_edu.evaluate.protocols import train_only_mask
from hsta_edu.fingerprint import data_identity, digest
from hsta_edu.io import safe_torch_load

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ["negative", "positive", "surprise"]


def _mer() -> MERDataset:
    """Six clips of two subjects, the last two train-only; nothing is decoded (no frames needed)."""
    clips = [Clip("casme3", f"s{i % 2}", f"c{i}", (), (), 1, 2, 3, CLASSES[i % 3], meta={"train_only": i >= 4})
             for i in range(6)]
    return MERDataset(DatasetIndex("casme3", clips, CLASSES), PrepConfig())


class _Toy(LabelledDataset):
    def __init__(self, labels, **attrs) -> None:
        self.labels = labels
        for name, value in attrs.items():
            setattr(self, name, value)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return torch.zeros(3, 2, 16, 16), torch.zeros(3, 2, 16, 16), torch.tensor(self.labels[i])


# ------------------------------------------------------------------ the probing this replaced, verbatim

def _old_labels(dataset) -> np.ndarray:
    if isinstance(dataset, Subset):
        return _old_labels(dataset.dataset)[np.asarray(dataset.indices, dtype=np.int64)]
    labels = getattr(dataset, "labels", None)
    if labels is not None:
        return np.asarray(labels, dtype=np.int64)
    tensors = getattr(dataset, "tensors", None)
    return tensors[2].cpu().numpy().astype(np.int64)


def _old_clip_ids(dataset) -> list[str]:
    if isinstance(dataset, Subset):
        inner = _old_clip_ids(dataset.dataset)
        return [inner[i] for i in dataset.indices]
    clips = getattr(getattr(dataset, "index", None), "clips", None)
    if clips is not None:
        return [c.uid for c in clips]
    return [str(i) for i in range(len(dataset))]


def _old_groups(dataset) -> list[str]:
    if isinstance(dataset, Subset):
        g = _old_groups(dataset.dataset)
        return [g[i] for i in dataset.indices]
    return [str(x) for x in dataset.groups]


def _old_classes(dataset) -> list[str]:
    base = dataset.dataset if isinstance(dataset, Subset) else dataset
    classes = getattr(base, "classes", None)
    if classes is None:
        return [str(i) for i in range(int(_old_labels(dataset).max()) + 1)]
    return [str(c) for c in classes]


def _old_train_only(dataset) -> np.ndarray:
    base = dataset.dataset if isinstance(dataset, Subset) else dataset
    clips = getattr(getattr(base, "index", None), "clips", None)
    if clips is None:
        return np.zeros(len(dataset), dtype=bool)
    mask = np.asarray([bool(c.meta.get("train_only", False)) for c in clips], dtype=bool)
    return mask[list(dataset.indices)] if isinstance(dataset, Subset) else mask


def _old_identity(dataset) -> dict:
    pairs = [[u, int(y)] for u, y in zip(_old_clip_ids(dataset), _old_labels(dataset).tolist(), strict=True)]
    return {"n_clips": len(pairs), "digest": digest(pairs)}


# ------------------------------------------------------------------ MERDataset, its views and subsets

def _shapes(ds: MERDataset) -> dict[str, Dataset]:
    return {"dataset": ds, "train_view": ds.train_view(), "test_view": ds.test_view(),
            "view": ds.view(train=True, flip=False), "subset": ds.subset([5, 3, 1]),
            "Subset": Subset(ds, [5, 3, 1]), "Subset of a view": Subset(ds.train_view(), [5, 3, 1]),
            "SpecialCrop": SpecialCrop(ds, 8)}


@pytest.mark.parametrize("shape", list(_shapes(_mer())))
def test_merdataset_reads_as_the_old_probing_did(shape):
    data = _shapes(_mer())[shape]
    old = data.base if isinstance(data, SpecialCrop) else data   # a SpecialCrop copied its base's attributes
    info = dataset_info(data)
    assert isinstance(info, DatasetInfo) and len(info) == len(data)
    assert info.labels.dtype == np.int64 and info.labels.tolist() == _old_labels(old).tolist()
    assert info.uids == _old_clip_ids(old)
    assert info.groups == _old_groups(old) and info.has_groups
    assert info.classes == _old_classes(old) == CLASSES
    assert info.train_only.tolist() == _old_train_only(old).tolist() == train_only_mask(data).tolist()
    assert data_identity(info.uids, info.labels) == _old_identity(old)


def test_fingerprints_of_before_the_interface_still_match():
    """Digests written by the code before `dataset_info`: checkpoints and run folders made then resume."""
    ds = _mer()
    for data, n, expected in [(ds, 6, "b9a4aecc2d1f03bc"), (ds.train_view(), 6, "b9a4aecc2d1f03bc"),
                              (ds.subset([5, 3, 1]), 3, "41e1e14c0ab2d1b7"), (Subset(ds, [5, 3, 1]), 3, "41e1e14c0ab2d1b7"),
                              (Subset(Subset(ds, [5, 4, 3, 2]), [0, 2]), 2, "d62081ce04818d33")]:
        info = dataset_info(data)
        assert data_identity(info.uids, info.labels) == {"n_clips": n, "digest": expected}
    tensors = TensorDataset(torch.zeros(6, 1), torch.zeros(6, 1), torch.tensor([0, 1, 2, 0, 1, 2]))
    for data, n, expected in [(tensors, 6, "0c8100e5750d4212"), (Subset(tensors, [4, 1]), 2, "ebb7918f431533ae")]:
        info = dataset_info(data)
        assert data_identity(info.uids, info.labels) == {"n_clips": n, "digest": expected}


def test_subset_of_subset_applies_both_index_lists():
    ds = _mer()
    info = dataset_info(Subset(Subset(ds, [5, 4, 3, 2]), [0, 2]))
    assert info.uids == ["casme3/s1/c5", "casme3/s1/c3"] and info.labels.tolist() == [2, 0]
    assert info.groups == ["casme3/s1", "casme3/s1"] and info.train_only.tolist() == [True, False]
    assert info.source == "Subset of MERDataset"
    assert dataset_info(Subset(ds, [-1])).uids == ["casme3/s1/c5"]      # negative, as torch's Subset takes it
    with pytest.raises(DataError, match=r"Subset of MERDataset: index 6 out of range for 6 items"):
        dataset_info(Subset(ds, [0, 6]))


def test_merdataset_says_uids_and_train_only_from_its_clips():
    ds = _mer()
    assert ds.uids == [f"casme3/s{i % 2}/c{i}" for i in range(6)]
    assert ds.train_only.tolist() == [False] * 4 + [True] * 2
    assert isinstance(ds, LabelledDataset) and isinstance(ds.subset([0]), LabelledDataset)


def test_info_arrays_are_copies():
    ds = _mer()
    info = dataset_info(ds)
    info.labels[0] = 2
    assert ds.labels[0] == 0 and dataset_info(ds).labels[0] == 0


# ------------------------------------------------------------------ SpecialCrop, TensorDataset, toy datasets

def test_special_crop_says_what_its_base_says():
    ds = _mer()
    crop = SpecialCrop(ds, 8)
    assert isinstance(crop, LabelledDataset)
    assert crop.labels.tolist() == ds.labels.tolist() and crop.classes == CLASSES and crop.groups == ds.groups
    assert crop.uids == ds.uids and crop.train_only.tolist() == ds.train_only.tolist()
    tensors = SpecialCrop(TensorDataset(torch.zeros(2, 1), torch.zeros(2, 1), torch.tensor([1, 0])), 8)
    assert crop.groups is not None and tensors.groups is None and tensors.labels.tolist() == [1, 0]
    with pytest.raises(DataError, match="SpecialCrop does not say the group"):
        _ = dataset_info(tensors).groups


def test_tensor_dataset_labels_from_the_last_tensor():
    data = TensorDataset(torch.zeros(4, 1), torch.zeros(4, 1), torch.tensor([0, 3, 1, 0]))
    info = dataset_info(data)
    assert info.labels.tolist() == [0, 3, 1, 0] and info.uids == ["0", "1", "2", "3"]
    assert info.classes == ["0", "1", "2", "3"] and not info.train_only.any() and not info.has_groups
    with pytest.raises(DataError, match=r"TensorDataset does not say the group \(dataset/subject\) of its items"):
        _ = info.groups
    with pytest.raises(DataError, match="last tensor .labels. must be 4 integer class indices"):
        dataset_info(TensorDataset(torch.zeros(4, 1), torch.zeros(4)))


def test_a_labelled_dataset_without_groups_fails_only_where_groups_are_needed():
    toy = _Toy(np.array([0, 1, 0, 1]), classes=["a", "b"])
    info = dataset_info(toy)
    assert info.labels.tolist() == [0, 1, 0, 1] and info.classes == ["a", "b"] and info.uids == ["0", "1", "2", "3"]
    require_classes(toy)                                   # labels are enough to check the classes
    with pytest.raises(DataError, match=r"^_Toy does not say the group \(dataset/subject\) of its items, which "
                                        r"subject protocols and validation subjects need: set `groups`"):
        _ = info.groups
    with pytest.raises(DataError, match="Subset of _Toy does not say the group"):
        _ = dataset_info(Subset(toy, [0, 1])).groups


def test_a_labelled_dataset_states_everything():
    toy = _Toy([1, 0], classes=("x", "y"), groups=["d/s1", "d/s2"], uids=["u1", "u2"], train_only=[False, True])
    info = dataset_info(toy)
    assert info.labels.tolist() == [1, 0] and info.classes == ["x", "y"] and info.groups == ["d/s1", "d/s2"]
    assert info.uids == ["u1", "u2"] and info.train_only.tolist() == [False, True] and info.source == "_Toy"
    assert dataset_info(_Toy([2, 0])).classes == ["0", "1", "2"]           # no classes: the labels' indices
    assert dataset_info(_Toy([])).labels.dtype == np.int64


@pytest.mark.parametrize(("attrs", "message"), [
    ({"labels": [0.0, 1.0]}, r"_Toy.labels must be 2 integer class indices .one per item., got shape \(2,\) dtype float64"),
    ({"labels": [0, 1], "groups": ["d/s1"]}, r"_Toy.groups has 1 entries for 2 items"),
    ({"labels": [0, 1], "uids": ["a", "a"]}, r"_Toy.uids: duplicate item ids \['a'\]"),
    ({"labels": [0, 1], "train_only": [0, 1]}, r"_Toy.train_only must be 2 booleans"),
])
def test_inconsistent_statements_are_refused(attrs, message):
    toy = _Toy([0, 1])
    for name, value in attrs.items():
        setattr(toy, name, value)
    with pytest.raises(DataError, match=message):
        dataset_info(toy)


def test_a_labelled_dataset_without_labels_and_a_plain_dataset_are_refused():
    class NoLabels(LabelledDataset):
        def __len__(self) -> int:
            return 2

    class Plain(Dataset):
        labels = [0, 1]   # an attribute alone is not the interface

        def __len__(self) -> int:
            return 2

    with pytest.raises(DataError, match="NoLabels is a LabelledDataset but sets no `labels`"):
        dataset_info(NoLabels())
    with pytest.raises(DataError, match=r"^Plain does not say its items' labels without loading them: give a "
                                        r"LabelledDataset"):
        dataset_info(Plain())
    from hsta_edu.training import recipe, train
    with pytest.raises(DataError, match="Plain does not say its items' labels"):
        train(torch.nn.Linear(1, 1), Plain(), recipe("fast", epochs=1, progress=False))


# ------------------------------------------------------------------ training reads the dataset as before

def test_training_on_a_merdataset_keeps_its_identity_and_sampling(tmp_path):
    """The checkpoint's data identity is the one the old probing gave, and a Subset of every clip (the
    same uids and labels) trains to the same weights: nothing but the labels and uids is read."""
    from hsta_edu import create_model
    from hsta_edu.training import recipe, set_seed, train
    from tests.configs import TINY_16PX_2FRAMES_1STAGE

    prep = PrepConfig(img_size=16, num_frames=2, face="none", register="none", magnify=0.0)
    ds = MERDataset(load_dataset(ROOT / "data_samples"), prep).preload(progress=False)
    cfg = recipe("fast", epochs=1, batch_size=8, warmup_epochs=0, progress=False)
    runs = []
    for data, folder in ((ds, tmp_path / "a"), (Subset(ds, list(range(len(ds)))), tmp_path / "b")):
        set_seed(0)
        runs.append(train(create_model("hsta-tiny", **TINY_16PX_2FRAMES_1STAGE), data, cfg, checkpoint_dir=folder))
        assert safe_torch_load(folder / "last.pt")["identity"]["data"] == _old_identity(ds)
    a, b = (r.model.state_dict() for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
