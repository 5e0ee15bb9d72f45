package models

// builtinBackbones lists the backbones in documentation order, one family per file
// (resnet.go, bninception.go, smallcnn.go). A new backbone is a Backbone value in its
// family's file plus its name here.
var builtinBackbones = []Backbone{resnet50Backbone, resnet18Backbone, bninceptionBackbone, smallcnnBackbone}
