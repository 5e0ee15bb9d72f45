# batch_size must be a multiple of samples_per_class
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
  schedule = { epochs = 2, batch_size = 61, lr = 1e-3, samples_per_class = 2 } # ERROR: Batch size not a multiple of samples_per_class | use e.g. batch_size = 62
}

embed "e" {
  models  = train.t
  dataset = dataset.d
}

evaluate "v" {
  from    = embed.e
  metrics = ["e_recall@1", "nmi"]
}

report "r" {
  from = evaluate.v
}
