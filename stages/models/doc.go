// Package models holds dmlrun's embedding networks: the backbones of reference-method.md §4
// (torchvision ResNet50 and ResNet18 with the same state-dict key names, frozen BatchNorm,
// average or "double" max+average pooling), the `last_linear` embedding head with optional
// L2 normalisation, and `smallcnn`, a small from-scratch network for CPU runs and tests.
//
// A Model is built by New from an arch string ("resnet50_frozen_normalize",
// "resnet18_frozen_normalize_double", "smallcnn_normalize"), consuming the torch CPU
// generator in the same order as torchvision's constructors, so that after
// torch.ManualSeed(s) its initial weights equal the original's. The arch is a backbone name
// and modifiers joined by "_". Each backbone family is one file that declares its Backbone
// value (name, accepted modifiers, documentation, default ImageNet weights, constructor):
// resnet.go (resnet50, resnet18), bninception.go, smallcnn.go; builtin.go lists them.
// ParseArch accepts exactly those tokens, where the original matched substrings and so
// silently ignored a misspelt modifier ("smallcnn_normalise" trained without
// normalisation); CheckArch reports the same as a validation problem with the nearest
// valid arch. Pretrained torchvision
// weights are loaded by key name from a `.pth` file (LoadPretrained); missing or unexpected
// keys are errors that name them.
//
// What it is not: it knows nothing about losses, optimisers, datasets or the store. The
// training loop (stages/train) decides when to run the backbone without gradients (warmup),
// which parameters go into which optimiser group, and how weights are checkpointed; it uses
// Model.State and Model.LoadState for that.
//
// BN-Inception (§4.3, bninception.go) follows pretrainedmodels' layout and key names; its
// shapes, key names and ceil-mode pooling are tested, but there is no numerical reference
// for it (pretrainedmodels is not installed where tests run), unlike the ResNets.
//
// smallcnn layers (input 3xHxW, any H, W >= 8; 32-64 px intended):
//
//	conv1  3x3,  3->16, pad 1  -> bn1 -> ReLU -> maxpool 2x2
//	conv2  3x3, 16->32, pad 1  -> bn2 -> ReLU -> maxpool 2x2
//	conv3  3x3, 32->64, pad 1  -> bn3 -> ReLU -> maxpool 2x2
//	conv4  3x3, 64->128, pad 1 -> bn4 -> ReLU             = features F (128 x H/8 x W/8)
//	global average pool (+ global max pool with "double")  = avg_features y (128)
//	last_linear 128 -> D (+ L2 normalisation with "normalize") = embeds z
//
// About 1.4 GMAC per forward of a batch of 90 at 64x64 (a quarter of ResNet18's at 64x64);
// state-dict names conv1.weight, bn1.{weight,bias,running_mean,running_var}, ...
//
// Its convolutions have no bias (BN follows) and are initialised like torchvision's ResNet
// (kaiming-normal, fan_out, ReLU); BN starts at weight 1, bias 0. With "frozen" in the name
// its BN layers stay in eval mode as for the ResNets, which for a network trained from
// scratch is rarely what you want: plain "smallcnn" uses batch statistics in training.
package models
