from typing import Literal

FileUploadFormPurpose = Literal["batch-api", "eval", "fine-tune"]

FILE_UPLOAD_FORM_PURPOSE_VALUES: set[FileUploadFormPurpose] = {
    "batch-api",
    "eval",
    "fine-tune",
}


def check_file_upload_form_purpose(value: str) -> FileUploadFormPurpose:
    if value in FILE_UPLOAD_FORM_PURPOSE_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {FILE_UPLOAD_FORM_PURPOSE_VALUES!r}"
    )
