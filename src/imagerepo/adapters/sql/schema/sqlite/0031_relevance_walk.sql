-- One-word relevance walks each matching term's entries best first (weight, then newest) and
-- stops after a page, instead of ranking every image the word matches (sql.search._walk_terms).
CREATE INDEX search_terms_ranked_walk ON search_terms (owner_id, term, weight, uploaded_key, image_id);
