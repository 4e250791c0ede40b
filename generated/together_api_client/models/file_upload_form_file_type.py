from typing import Literal

FileUploadFormFileType = Literal["csv", "jsonl", "parquet"]

FILE_UPLOAD_FORM_FILE_TYPE_VALUES: set[FileUploadFormFileType] = {
    "csv",
    "jsonl",
    "parquet",
}


def check_file_upload_form_file_type(value: str) -> FileUploadFormFileType:
    if value in FILE_UPLOAD_FORM_FILE_TYPE_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {FILE_UPLOAD_FORM_FILE_TYPE_VALUES!r}"
    )
