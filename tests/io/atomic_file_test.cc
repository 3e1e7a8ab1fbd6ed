#include "io/atomic_file.h"

#include "test_util.h"

namespace quasr {
namespace {

using test::ScratchDir;

TEST(AtomicFileWriter, UncommittedWriterLeavesNoFile) {
  ScratchDir dir;
  {
    AtomicFileWriter writer(dir.file("out.bin"));
    writer.write("hello", 5);
    EXPECT_EQ(dir.entries().size(), 1u);  // only the temporary so far
  }
  EXPECT_TRUE(dir.entries().empty());
}

TEST(AtomicFileWriter, ExceptionBeforeCommitLeavesNoFile) {
  ScratchDir dir;
  try {
    AtomicFileWriter writer(dir.file("out.bin"));
    writer.write("partial", 7);
    throw std::runtime_error("interrupted");
  } catch (const std::runtime_error&) {
  }
  EXPECT_TRUE(dir.entries().empty());
}

TEST(AtomicFileWriter, CommitPublishesContentsAndRemovesTemp) {
  ScratchDir dir;
  AtomicFileWriter writer(dir.file("out.bin"));
  writer.write("abc", 3);
  writer.write("def", 3);
  writer.commit();
  EXPECT_TRUE(writer.committed());
  EXPECT_EQ(test::read_file(dir.file("out.bin")), "abcdef");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"out.bin"});
  EXPECT_THROW(writer.write("x", 1), Error);
}

TEST(AtomicFileWriter, OldFileSurvivesUntilCommit) {
  ScratchDir dir;
  test::write_file(dir.file("out.bin"), "old");
  {
    AtomicFileWriter abandoned(dir.file("out.bin"));
    abandoned.write("new", 3);
  }
  EXPECT_EQ(test::read_file(dir.file("out.bin")), "old");
  AtomicFileWriter writer(dir.file("out.bin"));
  writer.write("new", 3);
  EXPECT_EQ(test::read_file(dir.file("out.bin")), "old");
  writer.commit();
  EXPECT_EQ(test::read_file(dir.file("out.bin")), "new");
}

TEST(AtomicFileWriter, MissingDirectoryNamesThePath) {
  ScratchDir dir;
  std::string path = dir.file("no-such-dir/out.bin");
  test::expect_error([&] { AtomicFileWriter writer(path); }, {path, "cannot create"});
}

}  // namespace
}  // namespace quasr
