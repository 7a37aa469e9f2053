-- derbes schema v18 (PostgreSQL): a legal representative's consent is to be confirmed at
-- majority only when it was given while the subject was a minor (a guardian acting for an adult
-- gives a consent that stays as it was). Months kept before are worked out again by the
-- `majority-reconfirmations` job.
INSERT INTO reconfirmations_unsettled (subject_id)
    SELECT DISTINCT subject_id FROM majority_reconfirmations
    ON CONFLICT (subject_id) DO NOTHING;
