"""The judge's training loop."""

import pytest
import torch
from torch.utils.data import TensorDataset

from course_lib.classifier import Classifier, predict, train_classifier


def _stripes(n, seed):
    """Class 0: a bright horizontal bar, class 1: a bright vertical bar, at a random place, on noise."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    images = 0.3 * torch.randn(n, 1, 8, 8, generator=g) - 0.5
    where = torch.randint(1, 7, (n,), generator=g)
    for i in range(n):
        if labels[i] == 0:
            images[i, 0, where[i], :] = 1.0
        else:
            images[i, 0, :, where[i]] = 1.0
    return images, labels


def test_train_classifier_learns_bar_orientation_and_repeats_with_the_same_seed():
    images, labels = _stripes(128, seed=0)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = Classifier(in_channels=1, num_outputs=2, width=8, feature_dim=16)
        runs.append(train_classifier(model, TensorDataset(images, labels), steps=40, batch_size=32, lr=1e-2, seed=1,
                                     progress=False))
    assert runs[0] == runs[1] and len(runs[0]) == 40
    assert not model.training
    test_images, test_labels = _stripes(200, seed=1)
    probs, _ = predict(model, test_images)
    accuracy = (probs.argmax(dim=1) == test_labels).float().mean().item()
    assert accuracy > 0.9, accuracy  # chance is 1/2


def test_train_classifier_rejects_bad_arguments():
    model = Classifier(in_channels=1, num_outputs=2, width=8, feature_dim=16)
    dataset = TensorDataset(torch.zeros(4, 1, 8, 8), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="steps must be a positive int"):
        train_classifier(model, dataset, steps=0, batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):  # drop_last leaves no batch of 8 among 4 images
        train_classifier(model, dataset, steps=1, batch_size=8)
