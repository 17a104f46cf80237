-- The login/consent pages' state travels sealed in the pages themselves
-- (oauth/interaction.go); its single use is claimed in used_jtis. The
-- table that held it is no longer written or read.
DROP TABLE oauth_interactions;
