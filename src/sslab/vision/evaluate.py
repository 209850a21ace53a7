"""How good is a representation: encoder features, a weighted kNN monitor, a linear probe, t-SNE maps.

All of them take uint8 images resident on the device and run the encoder in eval mode
under ``no_grad``, so evaluating never changes the encoder (weights or batch-norm statistics).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sslab.data.images import ImageSet
from sslab.vision.ssl_augment import to_input


@torch.no_grad()
def embed(encoder: nn.Module, images: torch.Tensor, batch: int = 512) -> torch.Tensor:
    """Encoder features (float32) of uint8 images, in eval mode (batch norm's running statistics)."""
    was_training = encoder.training
    encoder.eval()
    out = torch.cat([encoder(to_input(images[i:i + batch])).float() for i in range(0, len(images), batch)])
    encoder.train(was_training)
    return out


@torch.no_grad()
def knn_accuracy(train_f: torch.Tensor, train_y: torch.Tensor, test_f: torch.Tensor, test_y: torch.Tensor,
                 n_classes: int, k: int, temperature: float = 0.07, chunk: int = 1024) -> float:
    """Weighted kNN on cosine similarity (Wu et al., 2018): votes exp(sim / T) of the k nearest."""
    train_f, test_f = F.normalize(train_f, dim=1), F.normalize(test_f, dim=1)
    k = min(k, len(train_f))
    correct = torch.zeros((), device=test_f.device)
    for start in range(0, len(test_f), chunk):
        sim = test_f[start:start + chunk] @ train_f.T
        top, idx = sim.topk(k, dim=1)
        votes = torch.zeros(len(sim), n_classes, device=sim.device)
        votes.scatter_add_(1, train_y[idx], torch.exp(top / temperature))
        correct += (votes.argmax(1) == test_y[start:start + chunk]).sum()
    return correct.item() / max(len(test_f), 1)


def linear_probe(encoder: nn.Module, train: ImageSet, test: ImageSet, l2: float, max_iter: int = 200) -> dict:
    """Softmax regression on frozen features, trained to convergence with L-BFGS (as SimCLR's
    transfer evaluation does): no learning rate to tune, and deterministic from a zero start."""
    n_classes = len(train.classes)
    f_train, f_test = embed(encoder, train.images), embed(encoder, test.images)
    mean, std = f_train.mean(0), f_train.std(0, unbiased=False) + 1e-6
    f_train, f_test = (f_train - mean) / std, (f_test - mean) / std
    w = torch.zeros(f_train.shape[1], n_classes, device=f_train.device, requires_grad=True)
    b = torch.zeros(n_classes, device=f_train.device, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(f_train @ w + b, train.labels) + l2 * w.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    with torch.no_grad():
        train_acc = ((f_train @ w + b).argmax(1) == train.labels).float().mean().item()
        test_acc = ((f_test @ w + b).argmax(1) == test.labels).float().mean().item()
    return {"test_acc": test_acc, "train_acc": train_acc}


def tsne_map(features: torch.Tensor, seed: int) -> np.ndarray:
    """2-D t-SNE (scikit-learn, Barnes-Hut) of L2-normalised features, reduced to 50 dims by PCA first.

    One OpenMP thread: scikit-learn's Barnes-Hut gradient runs a parallel region per
    iteration, and on a machine whose cores are busy (training, other jobs) its threads
    spin-wait on each other; measured here, 600 points took 51 s with two threads and 3 s with one.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    x = F.normalize(features.float(), dim=1).cpu().numpy().astype(np.float64)
    with threadpool_limits(1):
        if x.shape[1] > 50:
            x = PCA(50, random_state=seed).fit_transform(x)
        perplexity = min(30.0, (len(x) - 1) / 3.0)
        return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x).astype(np.float32)


def balanced_subset(labels: torch.Tensor, n_classes: int, n: int, seed: int = 22) -> torch.Tensor:
    """A fixed, class-balanced choice of ``n`` items (say, the test images of every t-SNE map)."""
    gen = torch.Generator().manual_seed(seed)
    labels = labels.cpu()
    order = torch.randperm(len(labels), generator=gen)
    per = max(1, n // n_classes)
    return torch.cat([order[labels[order] == c][:per] for c in range(n_classes)]).sort().values
