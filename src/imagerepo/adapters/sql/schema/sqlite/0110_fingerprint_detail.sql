-- The detail hash (domain.similarity): 128 bits, big-endian, beside the perceptual hash. Null for
-- images analysed before it (their duplicates are judged as before; `imagerepo reanalyze` adds it).
ALTER TABLE image_fingerprints ADD COLUMN detail BLOB;
