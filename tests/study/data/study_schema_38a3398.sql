BEGIN TRANSACTION;
CREATE TABLE clip (
	id INTEGER NOT NULL, 
	study_id INTEGER NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	video_path TEXT NOT NULL, 
	duration FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (study_id, name), 
	FOREIGN KEY(study_id) REFERENCES study (id) ON DELETE CASCADE
);
INSERT INTO "clip" VALUES(1,1,'clip0','/srv/legacy-study/stim/clip0_originalvideo.mp4',1.0);
INSERT INTO "clip" VALUES(2,1,'clip1','/srv/legacy-study/stim/clip1_originalvideo.mp4',1.0);
INSERT INTO "clip" VALUES(3,1,'clip2','/srv/legacy-study/stim/clip2_originalvideo.mp4',1.0);
CREATE TABLE participant (
	id INTEGER NOT NULL, 
	study_id INTEGER NOT NULL, 
	token VARCHAR(64) NOT NULL, 
	seed INTEGER NOT NULL, 
	external_id VARCHAR(200), 
	external_study_id VARCHAR(200), 
	external_session_id VARCHAR(200), 
	created_at DATETIME NOT NULL, 
	consent_at DATETIME, 
	instructions_done_at DATETIME, 
	completed_at DATETIME, 
	completion_code VARCHAR(64), 
	excluded BOOLEAN NOT NULL, 
	exclusion_reason TEXT, 
	PRIMARY KEY (id), 
	FOREIGN KEY(study_id) REFERENCES study (id) ON DELETE CASCADE, 
	UNIQUE (token)
);
INSERT INTO "participant" VALUES(1,1,'6nIZBCF2n6RmwFDRQH-08n4GiIIoesiJ',100,'PID0',NULL,NULL,'2026-11-29 15:11:35.900853','2026-11-29 15:11:35.863466','2026-11-29 15:11:35.939413','2026-11-29 15:11:36.115987','8FFFE313',0,NULL);
INSERT INTO "participant" VALUES(2,1,'2nd68AyvTO68DIw4TmycdX0kFBgcvlum',101,'PID1',NULL,NULL,'2026-11-29 15:11:36.159264','2026-11-29 15:11:36.147612','2026-11-29 15:11:36.179422','2026-11-29 15:11:36.301566','1CC178AD',1,'test exclusion');
INSERT INTO "participant" VALUES(3,1,'ceU5WjsHT7QnE2R2XLNSmYfeWPaVZElU',102,'PID2',NULL,NULL,'2026-11-29 15:11:36.354386','2026-11-29 15:11:36.350801','2026-11-29 15:11:36.369141',NULL,NULL,0,NULL);
CREATE TABLE rating (
	id INTEGER NOT NULL, 
	trial_id INTEGER NOT NULL, 
	label VARCHAR(4) NOT NULL, 
	axis VARCHAR(40) NOT NULL, 
	score INTEGER NOT NULL, 
	rated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (trial_id, label, axis), 
	FOREIGN KEY(trial_id) REFERENCES trial (id) ON DELETE CASCADE
);
INSERT INTO "rating" VALUES(1,1,'A','overall',4,'2026-11-29 15:11:36.008867');
INSERT INTO "rating" VALUES(2,1,'A','sync',4,'2026-11-29 15:11:36.008867');
INSERT INTO "rating" VALUES(3,1,'A','quality',1,'2026-11-29 15:11:36.008867');
INSERT INTO "rating" VALUES(4,1,'B','overall',3,'2026-11-29 15:11:36.008867');
INSERT INTO "rating" VALUES(5,1,'B','sync',5,'2026-11-29 15:11:36.008867');
INSERT INTO "rating" VALUES(6,1,'B','quality',4,'2026-11-29 15:11:36.008867');
INSERT INTO "rating" VALUES(7,1,'C','overall',4,'2026-11-29 15:11:36.008867');
INSERT INTO "rating" VALUES(8,1,'C','sync',3,'2026-11-29 15:11:36.008867');
INSERT INTO "rating" VALUES(9,1,'C','quality',4,'2026-11-29 15:11:36.008867');
INSERT INTO "rating" VALUES(10,2,'A','overall',3,'2026-11-29 15:11:36.073820');
INSERT INTO "rating" VALUES(11,2,'A','sync',5,'2026-11-29 15:11:36.073820');
INSERT INTO "rating" VALUES(12,2,'A','quality',2,'2026-11-29 15:11:36.073820');
INSERT INTO "rating" VALUES(13,2,'B','overall',5,'2026-11-29 15:11:36.073820');
INSERT INTO "rating" VALUES(14,2,'B','sync',2,'2026-11-29 15:11:36.073820');
INSERT INTO "rating" VALUES(15,2,'B','quality',3,'2026-11-29 15:11:36.073820');
INSERT INTO "rating" VALUES(16,2,'C','overall',2,'2026-11-29 15:11:36.073820');
INSERT INTO "rating" VALUES(17,2,'C','sync',1,'2026-11-29 15:11:36.073820');
INSERT INTO "rating" VALUES(18,2,'C','quality',5,'2026-11-29 15:11:36.073820');
INSERT INTO "rating" VALUES(19,3,'A','overall',3,'2026-11-29 15:11:36.115987');
INSERT INTO "rating" VALUES(20,3,'A','sync',5,'2026-11-29 15:11:36.115987');
INSERT INTO "rating" VALUES(21,3,'A','quality',5,'2026-11-29 15:11:36.115987');
INSERT INTO "rating" VALUES(22,3,'B','overall',2,'2026-11-29 15:11:36.115987');
INSERT INTO "rating" VALUES(23,3,'B','sync',3,'2026-11-29 15:11:36.115987');
INSERT INTO "rating" VALUES(24,3,'B','quality',1,'2026-11-29 15:11:36.115987');
INSERT INTO "rating" VALUES(25,3,'C','overall',1,'2026-11-29 15:11:36.115987');
INSERT INTO "rating" VALUES(26,3,'C','sync',3,'2026-11-29 15:11:36.115987');
INSERT INTO "rating" VALUES(27,3,'C','quality',4,'2026-11-29 15:11:36.115987');
INSERT INTO "rating" VALUES(28,4,'A','overall',5,'2026-11-29 15:11:36.207462');
INSERT INTO "rating" VALUES(29,4,'A','sync',1,'2026-11-29 15:11:36.207462');
INSERT INTO "rating" VALUES(30,4,'A','quality',3,'2026-11-29 15:11:36.207462');
INSERT INTO "rating" VALUES(31,4,'B','overall',4,'2026-11-29 15:11:36.207462');
INSERT INTO "rating" VALUES(32,4,'B','sync',3,'2026-11-29 15:11:36.207462');
INSERT INTO "rating" VALUES(33,4,'B','quality',5,'2026-11-29 15:11:36.207462');
INSERT INTO "rating" VALUES(34,4,'C','overall',2,'2026-11-29 15:11:36.207462');
INSERT INTO "rating" VALUES(35,4,'C','sync',5,'2026-11-29 15:11:36.207462');
INSERT INTO "rating" VALUES(36,4,'C','quality',4,'2026-11-29 15:11:36.207462');
INSERT INTO "rating" VALUES(37,5,'A','overall',4,'2026-11-29 15:11:36.254847');
INSERT INTO "rating" VALUES(38,5,'A','sync',5,'2026-11-29 15:11:36.254847');
INSERT INTO "rating" VALUES(39,5,'A','quality',3,'2026-11-29 15:11:36.254847');
INSERT INTO "rating" VALUES(40,5,'B','overall',1,'2026-11-29 15:11:36.254847');
INSERT INTO "rating" VALUES(41,5,'B','sync',5,'2026-11-29 15:11:36.254847');
INSERT INTO "rating" VALUES(42,5,'B','quality',1,'2026-11-29 15:11:36.254847');
INSERT INTO "rating" VALUES(43,5,'C','overall',1,'2026-11-29 15:11:36.254847');
INSERT INTO "rating" VALUES(44,5,'C','sync',4,'2026-11-29 15:11:36.254847');
INSERT INTO "rating" VALUES(45,5,'C','quality',1,'2026-11-29 15:11:36.254847');
INSERT INTO "rating" VALUES(46,6,'A','overall',5,'2026-11-29 15:11:36.301566');
INSERT INTO "rating" VALUES(47,6,'A','sync',4,'2026-11-29 15:11:36.301566');
INSERT INTO "rating" VALUES(48,6,'A','quality',3,'2026-11-29 15:11:36.301566');
INSERT INTO "rating" VALUES(49,6,'B','overall',2,'2026-11-29 15:11:36.301566');
INSERT INTO "rating" VALUES(50,6,'B','sync',3,'2026-11-29 15:11:36.301566');
INSERT INTO "rating" VALUES(51,6,'B','quality',1,'2026-11-29 15:11:36.301566');
INSERT INTO "rating" VALUES(52,6,'C','overall',2,'2026-11-29 15:11:36.301566');
INSERT INTO "rating" VALUES(53,6,'C','sync',5,'2026-11-29 15:11:36.301566');
INSERT INTO "rating" VALUES(54,6,'C','quality',2,'2026-11-29 15:11:36.301566');
INSERT INTO "rating" VALUES(55,7,'A','overall',2,'2026-11-29 15:11:36.416938');
INSERT INTO "rating" VALUES(56,7,'A','sync',2,'2026-11-29 15:11:36.416938');
INSERT INTO "rating" VALUES(57,7,'A','quality',5,'2026-11-29 15:11:36.416938');
INSERT INTO "rating" VALUES(58,7,'B','overall',4,'2026-11-29 15:11:36.416938');
INSERT INTO "rating" VALUES(59,7,'B','sync',1,'2026-11-29 15:11:36.416938');
INSERT INTO "rating" VALUES(60,7,'B','quality',1,'2026-11-29 15:11:36.416938');
INSERT INTO "rating" VALUES(61,7,'C','overall',3,'2026-11-29 15:11:36.416938');
INSERT INTO "rating" VALUES(62,7,'C','sync',5,'2026-11-29 15:11:36.416938');
INSERT INTO "rating" VALUES(63,7,'C','quality',4,'2026-11-29 15:11:36.416938');
CREATE TABLE study (
	id INTEGER NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	config JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);
INSERT INTO "study" VALUES(1,'legacy','{"title": "Test study", "axes": [{"key": "overall", "name": "Overall fit", "question": "How well the given audio track semantically corresponds to the video."}, {"key": "sync", "name": "Synchronization", "question": "How precisely video events are synchronized to their corresponding sound."}, {"key": "quality", "name": "Audio quality", "question": "General quality of the audio, encompassing aspects such as artifacts and clarity."}], "scale": {"min": 1, "max": 5, "labels": {"1": "Bad", "2": "Poor", "3": "Fair", "4": "Good", "5": "Excellent"}}, "trials_per_participant": 2, "checks_per_participant": 1, "instructions": "In each trial you see one video and can switch between three soundtracks, A, B and C. Play every track (switch with the buttons or the keys 1, 2, 3; space plays and pauses) and rate each on a 5-point scale for overall fit, synchronization and audio quality. Please wear headphones in a quiet room.", "consent": "This is a listening study on generated sound for video. It takes about 15 minutes. Your ratings are stored with an anonymous identifier and used for research only. You may stop at any time.", "require_play": true, "crossfade_ms": 30.0, "completion_url": null, "completion_code": null, "checks": [{"track_id": 10, "clip_id": 1, "kind": "anchor", "replaces_system_id": 1}]}','2026-11-29 15:11:35.768008');
CREATE TABLE study_schema (
	id INTEGER NOT NULL, 
	version INTEGER NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "study_schema" VALUES(1,1);
CREATE TABLE system (
	id INTEGER NOT NULL, 
	study_id INTEGER NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (study_id, name), 
	FOREIGN KEY(study_id) REFERENCES study (id) ON DELETE CASCADE
);
INSERT INTO "system" VALUES(1,1,'SystemAlphaSecret');
INSERT INTO "system" VALUES(2,1,'SystemBetaSecret');
INSERT INTO "system" VALUES(3,1,'SystemGammaSecret');
CREATE TABLE track (
	id INTEGER NOT NULL, 
	clip_id INTEGER NOT NULL, 
	system_id INTEGER, 
	audio_path TEXT NOT NULL, 
	duration FLOAT NOT NULL, 
	check_kind VARCHAR(20), 
	PRIMARY KEY (id), 
	FOREIGN KEY(clip_id) REFERENCES clip (id) ON DELETE CASCADE, 
	FOREIGN KEY(system_id) REFERENCES system (id) ON DELETE CASCADE
);
INSERT INTO "track" VALUES(1,1,1,'/srv/legacy-study/stim/SystemAlphaSecret_clip0_trackfile.wav',1.0,NULL);
INSERT INTO "track" VALUES(2,1,2,'/srv/legacy-study/stim/SystemBetaSecret_clip0_trackfile.wav',1.0,NULL);
INSERT INTO "track" VALUES(3,1,3,'/srv/legacy-study/stim/SystemGammaSecret_clip0_trackfile.wav',1.0,NULL);
INSERT INTO "track" VALUES(4,2,1,'/srv/legacy-study/stim/SystemAlphaSecret_clip1_trackfile.wav',1.0,NULL);
INSERT INTO "track" VALUES(5,2,2,'/srv/legacy-study/stim/SystemBetaSecret_clip1_trackfile.wav',1.0,NULL);
INSERT INTO "track" VALUES(6,2,3,'/srv/legacy-study/stim/SystemGammaSecret_clip1_trackfile.wav',1.0,NULL);
INSERT INTO "track" VALUES(7,3,1,'/srv/legacy-study/stim/SystemAlphaSecret_clip2_trackfile.wav',1.0,NULL);
INSERT INTO "track" VALUES(8,3,2,'/srv/legacy-study/stim/SystemBetaSecret_clip2_trackfile.wav',1.0,NULL);
INSERT INTO "track" VALUES(9,3,3,'/srv/legacy-study/stim/SystemGammaSecret_clip2_trackfile.wav',1.0,NULL);
INSERT INTO "track" VALUES(10,1,NULL,'/srv/legacy-study/stim/SystemBetaSecret_clip0_trackfile.wav',1.0,'anchor');
CREATE TABLE trial (
	id INTEGER NOT NULL, 
	participant_id INTEGER NOT NULL, 
	clip_id INTEGER NOT NULL, 
	"order" INTEGER NOT NULL, 
	is_attention BOOLEAN NOT NULL, 
	video_token VARCHAR(64) NOT NULL, 
	completed_at DATETIME, 
	PRIMARY KEY (id), 
	UNIQUE (participant_id, "order"), 
	FOREIGN KEY(participant_id) REFERENCES participant (id) ON DELETE CASCADE, 
	FOREIGN KEY(clip_id) REFERENCES clip (id) ON DELETE CASCADE, 
	UNIQUE (video_token)
);
INSERT INTO "trial" VALUES(1,1,1,0,0,'7D9iCofcu7KXJYZFWO5wzCAQXrA1X6sE','2026-11-29 15:11:36.008867');
INSERT INTO "trial" VALUES(2,1,2,1,0,'R1AYCLd_fm06Wyi3MwHIDg5mwt2qmWUB','2026-11-29 15:11:36.073820');
INSERT INTO "trial" VALUES(3,1,1,2,1,'DywcKTzwajANBMPPyFpyZyNPS9KusM1D','2026-11-29 15:11:36.115987');
INSERT INTO "trial" VALUES(4,2,3,0,0,'SV8p0Xg9yBAZtnLzI9Gh6828iwQbKs61','2026-11-29 15:11:36.207462');
INSERT INTO "trial" VALUES(5,2,1,1,1,'BhssLUftPBWrhRkcxceUrK-UADMqkMkF','2026-11-29 15:11:36.254847');
INSERT INTO "trial" VALUES(6,2,2,2,0,'9qfRkVIklwHtnKbah3Nw3kH4nS5EpXyD','2026-11-29 15:11:36.301566');
INSERT INTO "trial" VALUES(7,3,3,0,0,'SI7_go-Oeei-DyUHQPGUvkSWWl5XoxOP',NULL);
INSERT INTO "trial" VALUES(8,3,1,1,0,'xI-QYRrJ-_ZFikMikWlhNwJmRc7Upcuy',NULL);
INSERT INTO "trial" VALUES(9,3,1,2,1,'pOOzDEPXoZsM0bWSCcgXe03U9F_9oiLe',NULL);
CREATE TABLE trial_item (
	id INTEGER NOT NULL, 
	trial_id INTEGER NOT NULL, 
	label VARCHAR(4) NOT NULL, 
	track_id INTEGER NOT NULL, 
	media_token VARCHAR(64) NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (trial_id, label), 
	FOREIGN KEY(trial_id) REFERENCES trial (id) ON DELETE CASCADE, 
	FOREIGN KEY(track_id) REFERENCES track (id) ON DELETE CASCADE, 
	UNIQUE (media_token)
);
INSERT INTO "trial_item" VALUES(1,1,'A',1,'cDPZs3JFafePJivoPHU8ZAKByNkp7GxH');
INSERT INTO "trial_item" VALUES(2,1,'B',2,'VmE-UdXXR37Ny_XdwZ6328kY30eVlgro');
INSERT INTO "trial_item" VALUES(3,1,'C',3,'7kgqrKvZ69falko7aF68WtxOOh0ZgoWB');
INSERT INTO "trial_item" VALUES(4,2,'A',6,'zEWH7-b5w4xBiauv7GcBNeDaFMZ4EE7K');
INSERT INTO "trial_item" VALUES(5,2,'B',4,'_Qsw1-hoCtxt6yKmLmCVCZkghygsi4Gu');
INSERT INTO "trial_item" VALUES(6,2,'C',5,'ZUKh0eU-89lS3DQc6OXhe5rw4CFR3KRC');
INSERT INTO "trial_item" VALUES(7,3,'A',10,'pc-2F5ze-ZsRiy7IJApSoO7K6sDuaL6z');
INSERT INTO "trial_item" VALUES(8,3,'B',3,'m0-C_G4rrIfnlIyuitbVIx13Xo_UgbL7');
INSERT INTO "trial_item" VALUES(9,3,'C',2,'vBJiKAmwKGufv4ZuPAS56QcJDYllfqkV');
INSERT INTO "trial_item" VALUES(10,4,'A',9,'BhnmYMqnT2NEdAq9I9hoQJgAnxwZgQR3');
INSERT INTO "trial_item" VALUES(11,4,'B',7,'mc_LG9MmCkqlWmhz-zYo3kCzWQtyty0d');
INSERT INTO "trial_item" VALUES(12,4,'C',8,'0IDD9V1qwZFOvJK2XK95Y6S-R_HzyLqc');
INSERT INTO "trial_item" VALUES(13,5,'A',2,'ssCh65aTlamltoMHL1sa4poTCHN-jxYo');
INSERT INTO "trial_item" VALUES(14,5,'B',10,'Xpn2LAQsF9kU1KF09L6XJA_Yq6YtD_qr');
INSERT INTO "trial_item" VALUES(15,5,'C',3,'EpCiwitEY37YwHdmP5fceat4Zqt2h0O6');
INSERT INTO "trial_item" VALUES(16,6,'A',5,'XNBpEmXh4m5phgobR84mQp_K3OvJkBuX');
INSERT INTO "trial_item" VALUES(17,6,'B',4,'L6-WjEPCLhhfoGJ0Io2eeVndaSr3fzD0');
INSERT INTO "trial_item" VALUES(18,6,'C',6,'9RK7jQ0UudhsD0wDjiB0vQzGP0M2cNYI');
INSERT INTO "trial_item" VALUES(19,7,'A',7,'Co-QGrhVybkPXWTb9dhcXDMk0L1HsCYx');
INSERT INTO "trial_item" VALUES(20,7,'B',9,'SRHnF9W7sl6nGw6gwL4PMBjEZt4_39Bb');
INSERT INTO "trial_item" VALUES(21,7,'C',8,'eTOwjJ166o8-OWObfHEOalYiHsPFsuiu');
INSERT INTO "trial_item" VALUES(22,8,'A',1,'ycRJEiyhag0wKVVcdzy2PupLfP6V0-Lj');
INSERT INTO "trial_item" VALUES(23,8,'B',2,'XVCWUGEP8EsGS6ZvU_XyT4gz6CEofos3');
INSERT INTO "trial_item" VALUES(24,8,'C',3,'xwAu2YR63suUr1FNCis5-pNI5GK9958M');
INSERT INTO "trial_item" VALUES(25,9,'A',3,'Hiuqt0F1hGYlVzVDbATQyRxfmyYW1RIP');
INSERT INTO "trial_item" VALUES(26,9,'B',2,'3T1Ml21HnCpUfD0Z-aTtsJZM848DkqY4');
INSERT INTO "trial_item" VALUES(27,9,'C',10,'fU70tTnn7L0Lqqh42Ttn_SlgEt0gh3MK');
CREATE INDEX ix_system_study_id ON system (study_id);
CREATE INDEX ix_clip_study_id ON clip (study_id);
CREATE INDEX ix_participant_study_id ON participant (study_id);
CREATE INDEX ix_track_clip_id ON track (clip_id);
CREATE INDEX ix_trial_participant_id ON trial (participant_id);
CREATE INDEX ix_trial_clip_id ON trial (clip_id);
CREATE INDEX ix_trial_item_trial_id ON trial_item (trial_id);
CREATE INDEX ix_rating_trial_id ON rating (trial_id);
COMMIT;
