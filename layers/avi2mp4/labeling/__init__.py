"""Which sampled frames become JPEGs for labeling: dead-frame judgements on plain arrays, the
streaming detector, and JPEG encoding. No storage, no AWS."""
