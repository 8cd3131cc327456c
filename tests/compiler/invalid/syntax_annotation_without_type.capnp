@0xe3a0e11f043b0582;
annotation incomplete(struct);
