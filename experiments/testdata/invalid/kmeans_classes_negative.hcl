# kmeans_classes >= 0
dataset "d" {
  kind = "emoji"
  root = "data/emoji"
  base = 36
  crop = 32
}

train "t" {
  dataset        = dataset.d
  arch           = "smallcnn_normalize"
  not_pretrained = true
  embed_dim      = 32
  loss "oproxy" {}
  schedule = { epochs = 2, batch_size = 60, lr = 1e-3, samples_per_class = 2 }
}

embed "e" {
  models  = train.t
  dataset = dataset.d
}

evaluate "v" {
  from    = embed.e
  metrics = ["e_recall@1", "nmi"]
  kmeans_classes = -1 # ERROR: Value out of range | "kmeans_classes" must be at least 0; got -1
}

report "r" {
  from = evaluate.v
}
