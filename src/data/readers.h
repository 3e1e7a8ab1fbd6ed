// Readers for the dataset layouts quasr bench accepts. Each returns the
// utterances in the layout's stable order and throws quasr::Error naming
// file:line for rows it cannot parse (wrong field count, missing column, bad
// JSON, duplicate id). Empty transcripts and unusable audio files are NOT
// rejected here: validate_utterance() does that after selection, so --skip-bad
// applies to them. All readers strip a UTF-8 BOM and accept \n, \r\n or \r.
#pragma once

#include <string>
#include <vector>

#include "data/utterance.h"

namespace quasr {

// LibriSpeech tree, as the SpeechBrain quantization tutorial's get_samples:
// ROOT/<speaker>/<chapter>/*.trans.txt, each line "ID TEXT" split at the first
// space, audio at the same folder + ID + ".flac". Blank lines are ignored.
// Sorted by id (byte order). duration_s = -1.
std::vector<Utterance> read_librispeech_tree(const std::string& root);

// SpeechBrain CSV (speechbrain.dataio.dataio.load_data_csv): a header naming at
// least ID, wav and wrd (duration optional), in any column order; excel
// dialect with "" escapes, quoted fields may hold commas and newlines, spaces
// after a comma are skipped (skipinitialspace), blank rows ignored. "$name"
// (name = [A-Za-z0-9_.]+) in any field is replaced by replacements[name];
// `data_root` fills "$data_root", and any other variable is an error. Paths are
// used as written after substitution. File order.
std::vector<Utterance> read_speechbrain_csv(const std::string& path, const std::string& data_root);

// JSONL manifest (NeMo style): one object per line with "audio_filepath" and
// "text" strings, optional "duration" (seconds) and "id". A .json file whose
// first non-space character is '[' is read as an array of such objects.
// Relative audio paths are resolved against the manifest's folder. Without an
// "id" the id is audio_filepath as written minus its extension. File order.
std::vector<Utterance> read_jsonl_manifest(const std::string& path);

// TSV: "path<TAB>transcript" per line (split at the first tab). The first line
// is a header, and skipped, when its first field is one of path, audio,
// audio_path, audio_filepath, wav, file, filename (case-insensitive). Relative
// paths are resolved against the TSV's folder; id = path as written minus its
// extension. File order.
std::vector<Utterance> read_tsv_manifest(const std::string& path);

}  // namespace quasr
